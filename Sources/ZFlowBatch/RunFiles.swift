import Foundation
import ZFlowEval

// The files of an eval or sweep output folder:
//   run.json                              what was run (RunIdentity) and its grid points
//   samples.jsonl / samples.shard-I-of-N.jsonl   one SampleRecord per (point, sample), appended as they finish
//   summary.json                          metrics per point (no timings: a merge reproduces it exactly)
//   results.json, results.csv             the table: params, metrics, time, executed/cached nodes
//   examples/                             overlay thumbnails for the report
//   outputs/                              what the graph's sinks wrote, per point (and sample)

public struct RunDescription: Codable, Equatable, Sendable {
    public struct Point: Codable, Equatable, Sendable {
        public var index: Int
        public var params: [String: String]
    }
    public var identity: RunIdentity
    public var points: [Point]

    public var axes: [GridAxis] { identity.grid }
    /// Samples per point (1 without a dataset).
    public var samples: Int { identity.dataset?.samples ?? 1 }
}

/// One finished (point, sample): the counts the metrics need, and what the run cost.
public struct SampleRecord: Codable, Equatable, Sendable {
    /// The digest of the run's identity: records of another run are never mixed in.
    public var run: String
    public var point: Int
    public var index: Int
    public var id: String
    public var phrase: String
    /// Nil for a sweep without a dataset, and for a failed sample.
    public var counts: SampleCounts?
    /// This sample's IoU at 0.3, for browsing the JSONL.
    public var iou: Double?
    public var seconds: Double
    public var executed: Int
    public var cached: Int
    /// Why the sample failed (recorded with `--keep-going`); nil for a sample that ran.
    public var error: String?
}

public enum RunFiles {
    public static func description(_ folder: URL) -> URL { folder.appendingPathComponent("run.json") }
    public static func summary(_ folder: URL) -> URL { folder.appendingPathComponent("summary.json") }
    public static func resultsJSON(_ folder: URL) -> URL { folder.appendingPathComponent("results.json") }
    public static func resultsCSV(_ folder: URL) -> URL { folder.appendingPathComponent("results.csv") }
    public static func examples(_ folder: URL) -> URL { folder.appendingPathComponent("examples") }
    public static func outputs(_ folder: URL) -> URL { folder.appendingPathComponent("outputs") }

    /// A sample id as a file or folder name.
    static func safeName(_ id: String) -> String {
        String(id.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
    }

    public static func samples(_ folder: URL, shard: Shard) -> URL {
        folder.appendingPathComponent(shard.count == 1 ? "samples.jsonl" : "samples.shard-\(shard.index)-of-\(shard.count).jsonl")
    }

    /// Every samples file in the folder (a whole run's and the shards').
    public static func allSampleFiles(_ folder: URL) throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { $0.lastPathComponent.hasPrefix("samples") && $0.pathExtension == "jsonl" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    static let prettyEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return encoder
    }()

    public static func write<T: Encodable>(_ value: T, to url: URL) throws {
        try prettyEncoder.encode(value).write(to: url, options: .atomic)
    }

    public static func read<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw BatchError("cannot read \(url.path): \(error.localizedDescription)")
        }
        do { return try JSONDecoder().decode(type, from: data) } catch {
            throw BatchError("\(url.path): not a valid \(T.self): \(error)")
        }
    }

    /// The records of a samples file. A last line without its newline (a run killed while
    /// writing) is dropped and cut from the file, so that appending continues cleanly.
    public static func readRecords(_ url: URL, repair: Bool = false) throws -> [SampleRecord] {
        guard FileManager.default.fileExists(atPath: url.path) else { return [] }
        var data = try Data(contentsOf: url)
        if let last = data.last, last != UInt8(ascii: "\n") {
            let keep = (data.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 }) ?? 0
            data = data.prefix(keep)
            if repair { try data.write(to: url, options: .atomic) }
        }
        var records: [SampleRecord] = []
        for (number, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() where !line.isEmpty {
            do { records.append(try JSONDecoder().decode(SampleRecord.self, from: Data(line))) } catch {
                throw BatchError("\(url.path):\(number + 1): not a sample record: \(error)")
            }
        }
        return records
    }
}

extension RunFiles {
    /// A record as one line of a samples file.
    static func line(_ record: SampleRecord) throws -> Data {
        var line = try encoder.encode(record)
        line.append(UInt8(ascii: "\n"))
        return line
    }

    /// Replaces a samples file with `records`.
    static func writeRecords(_ records: [SampleRecord], to url: URL) throws {
        try records.reduce(into: Data()) { $0.append(try line($1)) }.write(to: url, options: .atomic)
    }
}

/// Appends records as JSON lines, each written whole and flushed.
final class RecordWriter {
    private let handle: FileHandle

    init(_ url: URL) throws {
        if !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw BatchError("cannot create \(url.path)")
            }
        }
        handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
    }

    func append(_ record: SampleRecord) throws {
        try handle.write(contentsOf: try RunFiles.line(record))
        try handle.synchronize()
    }

    deinit { try? handle.close() }
}
