import Foundation
import ZFlowEval
import ZFlowGraph

/// What produced a results folder, by content: the graph's text, the plugin libraries'
/// fingerprints, the dataset manifest's digest, the settings, the grid, the command's options
/// and the ZFlow version. A folder is resumed only by a run of the same identity (paths may
/// differ: a moved graph or manifest of the same content is the same run). `eval` and `sweep`
/// use it; `train` is meant to, with its own options.
public struct RunIdentity: Codable, Equatable, Sendable {
    public struct Dataset: Codable, Equatable, Sendable {
        public var path: String
        public var digest: String
        public var samples: Int
    }

    public struct Plugin: Codable, Equatable, Sendable {
        public var path: String
        public var fingerprint: String
    }

    public var zflowVersion: String
    /// Where the graph was read from (shown, not compared).
    public var graphPath: String
    public var graphText: String
    public var plugins: [Plugin]
    public var dataset: Dataset?
    /// `--set` values as written in a graph file, by param name.
    public var settings: [String: String]
    public var grid: [GridAxis]
    /// Other choices of the command that change its numbers (e.g. eval's `--logits`).
    public var options: [String: String]

    public init(graph: CheckedGraph, plugins: [String], dataset: DatasetManifest?, settings: [String: Constant],
                grid: [GridAxis], options: [String: String]) throws {
        zflowVersion = ZFlowVersion.string
        graphPath = graph.source.name
        graphText = graph.source.text
        self.plugins = try plugins.map { path in
            do { return Plugin(path: path, fingerprint: SHA256.hex(try Data(contentsOf: URL(fileURLWithPath: path)))) } catch {
                throw BatchError("--plugin \(path): cannot read: \(error.localizedDescription)")
            }
        }
        self.dataset = dataset.map { Dataset(path: $0.url.path, digest: SHA256.hex($0.text), samples: $0.samples.count) }
        self.settings = settings.mapValues(\.description)
        self.grid = grid
        self.options = options
    }

    /// A short digest of everything compared, stamped on every sample record of the run.
    public var digest: String {
        var compared = self
        compared.graphPath = ""
        compared.dataset?.path = ""
        compared.plugins = plugins.map { Plugin(path: "", fingerprint: $0.fingerprint) }
        return SHA256.hex((try? RunFiles.encoder.encode(compared)) ?? Data())
    }

    /// What differs between the run that wrote a folder (`self`) and `other`, one line each,
    /// empty when they are the same run.
    public func differences(to other: RunIdentity) -> [String] {
        var lines: [String] = []
        if zflowVersion != other.zflowVersion {
            lines.append("ZFlow version: \(zflowVersion) -> \(other.zflowVersion)")
        }
        if let change = Self.firstDifferingLine(graphText, other.graphText) {
            lines.append("graph (\(graphPath) -> \(other.graphPath)): \(change)")
        }
        if plugins.map(\.fingerprint) != other.plugins.map(\.fingerprint) {
            lines.append("plugins: " + Self.listChange(plugins.map { "\($0.path) (\($0.fingerprint))" },
                                                      other.plugins.map { "\($0.path) (\($0.fingerprint))" }))
        }
        switch (dataset, other.dataset) {
        case let (old?, new?) where old.digest != new.digest:
            lines.append("dataset manifest: content of \(old.path) (\(old.samples) samples, digest \(old.digest)) -> "
                + "\(new.path) (\(new.samples) samples, digest \(new.digest))")
        case (nil, let new?): lines.append("dataset: none -> \(new.path)")
        case (let old?, nil): lines.append("dataset: \(old.path) -> none")
        default: break
        }
        lines += Self.mapChanges("--set", settings, other.settings)
        if grid != other.grid {
            lines.append("grid: " + Self.listChange(grid.map { "\($0.name)=\($0.texts.joined(separator: ","))" },
                                                   other.grid.map { "\($0.name)=\($0.texts.joined(separator: ","))" }))
        }
        lines += Self.mapChanges("option", options, other.options)
        return lines
    }

    /// `line N: "old" -> "new"` for the first line that differs, nil for equal texts.
    static func firstDifferingLine(_ old: String, _ new: String) -> String? {
        guard old != new else { return nil }
        let oldLines = old.split(separator: "\n", omittingEmptySubsequences: false)
        let newLines = new.split(separator: "\n", omittingEmptySubsequences: false)
        let index = zip(oldLines, newLines).enumerated().first { $1.0 != $1.1 }?.offset ?? min(oldLines.count, newLines.count)
        func line(_ lines: [Substring]) -> String {
            index < lines.count ? "\"\(lines[index])\"" : "(end of file)"
        }
        return "line \(index + 1): \(line(oldLines)) -> \(line(newLines))"
    }

    private static func mapChanges(_ label: String, _ old: [String: String], _ new: [String: String]) -> [String] {
        Set(old.keys).union(new.keys).sorted().compactMap { name in
            switch (old[name], new[name]) {
            case let (a?, b?) where a != b: "\(label) \(name): \(a) -> \(b)"
            case (let a?, nil): "\(label) \(name): \(a) -> (not given)"
            case (nil, let b?): "\(label) \(name): (not given) -> \(b)"
            default: nil
            }
        }
    }

    private static func listChange(_ old: [String], _ new: [String]) -> String {
        func text(_ items: [String]) -> String { items.isEmpty ? "none" : items.joined(separator: " ") }
        return "\(text(old)) -> \(text(new))"
    }
}
