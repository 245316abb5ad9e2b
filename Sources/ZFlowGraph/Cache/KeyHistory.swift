import Foundation

// The key parts each node of a file had on its last run, so that
// `--explain-cache` can say what changed. Kept in memory, and under
// `<cache dir>/explain/` so that it works across processes.

final class KeyHistory: @unchecked Sendable {
    private let directory: URL?
    private let lock = NSLock()
    private var files: [String: [String: KeyParts]] = [:]

    init(directory: URL?) {
        self.directory = directory?.appendingPathComponent("explain")
    }

    func previous(_ graph: CheckedGraph, _ node: GraphNode) -> KeyParts? {
        lock.withLock { load(graph.source.name)[node.displayName] }
    }

    func record(_ graph: CheckedGraph, keys: [Int: KeyParts]) {
        lock.withLock {
            var entries = load(graph.source.name)
            for (index, parts) in keys { entries[graph.nodes[index].displayName] = parts }
            files[graph.source.name] = entries
            guard let url = url(for: graph.source.name), let data = try? JSONEncoder().encode(entries) else { return }
            try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? data.write(to: url, options: .atomic)
        }
    }

    private func load(_ name: String) -> [String: KeyParts] {
        if let entries = files[name] { return entries }
        guard let url = url(for: name), let data = try? Data(contentsOf: url),
              let entries = try? JSONDecoder().decode([String: KeyParts].self, from: data) else { return [:] }
        files[name] = entries
        return entries
    }

    private func url(for name: String) -> URL? {
        let absolute = URL(fileURLWithPath: name).standardizedFileURL.path
        return directory?.appendingPathComponent(SHA256.hex(absolute) + ".json")
    }
}
