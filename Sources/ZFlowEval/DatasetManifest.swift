import Foundation

// A dataset as JSON Lines: one `{"id", "image", "phrase", "mask"}` object per line; paths are
// relative to the manifest's folder; the mask is a PNG whose nonzero pixels are foreground.

public struct DatasetSample: Sendable, Equatable {
    /// Position in the manifest (0-based, blank lines skipped): the sample's identity for shards.
    public let index: Int
    public let id: String
    public let image: URL
    public let phrase: String
    public let mask: URL
    /// The 1-based manifest line, for messages.
    public let line: Int
}

/// A manifest problem, pointing at `file:line:column`.
public struct ManifestError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let line: Int
    public let column: Int
    public let message: String
    public var description: String { "\(file):\(line):\(column): \(message)" }
}

public struct DatasetManifest: Sendable {
    public let url: URL
    public let samples: [DatasetSample]

    /// Reads and validates every line; ids must be unique. Does not open the images.
    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ManifestError(file: url.path, line: 0, column: 0, message: "cannot read: \(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ManifestError(file: url.path, line: 1, column: 1, message: "not UTF-8 text")
        }
        try self.init(text: text, url: url)
    }

    public init(text: String, url: URL) throws {
        self.url = url
        let folder = url.deletingLastPathComponent()
        var samples: [DatasetSample] = []
        var lines: [String: Int] = [:]
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(rawLine).trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            let fail = { (column: Int, message: String) in
                ManifestError(file: url.path, line: offset + 1, column: column, message: message)
            }
            let object: [String: Any]
            do {
                guard let parsed = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                    throw fail(1, "expected a JSON object {\"id\", \"image\", \"phrase\", \"mask\"}")
                }
                object = parsed
            } catch let error as ManifestError {
                throw error
            } catch {
                throw fail(Self.column(in: error) ?? 1, "invalid JSON: \(Self.reason(error))")
            }
            func field(_ key: String) throws -> String {
                let column = (line.range(of: "\"\(key)\"").map { line.distance(from: line.startIndex, to: $0.lowerBound) } ?? 0) + 1
                guard let value = object[key] else { throw fail(column, "missing \"\(key)\"") }
                guard let string = value as? String else { throw fail(column, "\"\(key)\" must be a string") }
                if key != "phrase" && string.isEmpty { throw fail(column, "\"\(key)\" is empty") }
                return string
            }
            let id = try field("id")
            if let first = lines[id] { throw fail(1, "duplicate id \"\(id)\" (first on line \(first))") }
            lines[id] = offset + 1
            samples.append(DatasetSample(
                index: samples.count, id: id, image: Self.resolve(try field("image"), in: folder),
                phrase: try field("phrase"), mask: Self.resolve(try field("mask"), in: folder), line: offset + 1))
        }
        guard !samples.isEmpty else {
            throw ManifestError(file: url.path, line: 1, column: 1, message: "the manifest has no samples")
        }
        self.samples = samples
    }

    private static func resolve(_ path: String, in folder: URL) -> URL {
        path.hasPrefix("/") ? URL(fileURLWithPath: path) : folder.appendingPathComponent(path).standardizedFileURL
    }

    /// Foundation's JSON errors say "around line 1, column N" or "at character N" (0-based).
    private static func column(in error: Error) -> Int? {
        let text = reason(error)
        for (marker, shift) in [("column ", 0), ("character ", 1)] {
            if let range = text.range(of: marker) {
                let digits = text[range.upperBound...].prefix { $0.isNumber }
                if let value = Int(digits) { return value + shift }
            }
        }
        return nil
    }

    private static func reason(_ error: Error) -> String {
        let info = (error as NSError).userInfo
        return (info["NSDebugDescription"] as? String) ?? "\(error)"
    }
}
