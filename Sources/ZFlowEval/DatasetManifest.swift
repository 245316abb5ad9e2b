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

/// A manifest problem, pointing at `file:line:column` (the manifest's path as the user gave it).
public struct ManifestError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let line: Int
    public let column: Int
    public let message: String
    public var description: String { "\(file):\(line):\(column): \(message)" }
}

/// Every problem of a manifest, in line order: all bad lines are reported at once.
public struct ManifestErrors: Error, CustomStringConvertible, Equatable {
    public let errors: [ManifestError]
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

public struct DatasetManifest: Sendable {
    public let url: URL
    /// The manifest as read: what a results folder's identity hashes.
    public let text: String
    public let samples: [DatasetSample]

    /// Says what is wrong with the file a sample's `field` ("image" or "mask") names, or nil.
    /// Eval knows nothing about images: the caller brings the check (ZFlowBatch's DatasetFiles).
    public typealias FileCheck = (_ field: String, _ url: URL) -> String?

    /// Reads and validates every line (ids must be unique; `checkFile` runs on each sample's
    /// files) and throws `ManifestErrors` with every problem found.
    public init(contentsOf url: URL, checkFile: FileCheck? = nil) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ManifestErrors(errors: [ManifestError(file: url.relativePath, line: 0, column: 0,
                                                        message: "cannot read: \(error.localizedDescription)")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            let valid = String(decoding: data, as: UTF8.self).prefix { $0 != "\u{FFFD}" }
            let line = valid.split(separator: "\n", omittingEmptySubsequences: false).count
            throw ManifestErrors(errors: [ManifestError(file: url.relativePath, line: line, column: 1, message: "not UTF-8 text")])
        }
        try self.init(text: text, url: url, checkFile: checkFile)
    }

    public init(text: String, url: URL, checkFile: FileCheck? = nil) throws {
        self.url = url
        self.text = text
        let folder = url.deletingLastPathComponent()
        var samples: [DatasetSample] = [], errors: [ManifestError] = []
        var lines: [String: Int] = [:]
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(rawLine).trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            let fail = { (column: Int, message: String) in
                ManifestError(file: url.relativePath, line: offset + 1, column: column, message: message)
            }
            do {
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
                func column(_ key: String) -> Int {
                    (line.range(of: "\"\(key)\"").map { line.distance(from: line.startIndex, to: $0.lowerBound) } ?? 0) + 1
                }
                func field(_ key: String) throws -> String {
                    guard let value = object[key] else { throw fail(column(key), "missing \"\(key)\"") }
                    guard let string = value as? String else { throw fail(column(key), "\"\(key)\" must be a string") }
                    if key != "phrase" && string.isEmpty { throw fail(column(key), "\"\(key)\" is empty") }
                    return string
                }
                let id = try field("id")
                if let first = lines[id] { throw fail(1, "duplicate id \"\(id)\" (first on line \(first))") }
                lines[id] = offset + 1
                let sample = DatasetSample(
                    index: samples.count, id: id, image: Self.resolve(try field("image"), in: folder),
                    phrase: try field("phrase"), mask: Self.resolve(try field("mask"), in: folder), line: offset + 1)
                samples.append(sample)
                for (key, file) in [("image", sample.image), ("mask", sample.mask)] {
                    if let problem = checkFile?(key, file) { errors.append(fail(column(key), "\(key): \(problem)")) }
                }
            } catch let error as ManifestError {
                errors.append(error)
            }
        }
        if samples.isEmpty && errors.isEmpty {
            errors.append(ManifestError(file: url.relativePath, line: 1, column: 1, message: "the manifest has no samples"))
        }
        guard errors.isEmpty else { throw ManifestErrors(errors: errors) }
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
