// What a run did, per node and in total.

public enum NodeStatus: Sendable, Equatable {
    case executed
    case memoryHit
    case diskHit
    case failed(String)
    /// Not run because a node it depends on failed.
    case skipped(dependency: String)

    public var isCached: Bool { self == .memoryHit || self == .diskHit }

    /// One word for tables and events.
    public var label: String {
        switch self {
        case .executed: "ran"
        case .memoryHit: "memory"
        case .diskHit: "disk"
        case .failed: "FAILED"
        case .skipped: "skipped"
        }
    }
}

public struct NodeReport: Sendable {
    public let index: Int
    /// The node's name, or `Type (line N)` for a sink.
    public let name: String
    public let typeName: String
    public let range: SourceRange
    public var status: NodeStatus
    /// Execution time; zero for a cached or skipped node.
    public var seconds: Double
    /// The cache key (SHA-256 hex); nil when the cache is off.
    public let key: String?
    /// Why the cache hit or missed, with `RunOptions.explainCache`.
    public var explanation: String?
}

/// A node that threw, with where it is written.
public struct NodeFailure: Error, Sendable, CustomStringConvertible {
    public let nodeName: String
    public let typeName: String
    public let range: SourceRange
    public let message: String
    public let source: SourceFile

    public var description: String {
        source.render(Diagnostic(range, "node '\(nodeName)' (\(typeName)) failed: \(message)"))
    }
}

public struct RunReport: Sendable {
    /// The nodes the run needed, in source order.
    public var nodes: [NodeReport]
    /// The values of the outputs asked for in `Engine.run(outputs:)`.
    public var outputs: [OutputReference: any Sendable]
    public var failures: [NodeFailure]
    /// Cache entries found corrupt (and recomputed), with the reason.
    public var corruptEntries: [String]
    /// Disk-cache entries that could not be written, with the reason (the run's results stand).
    public var cacheWriteFailures: [String]
    public var wallSeconds: Double

    public var succeeded: Bool { failures.isEmpty }
    public var executedCount: Int { nodes.filter { $0.status == .executed }.count }
    public var cachedCount: Int { nodes.filter { $0.status.isCached }.count }

    public func node(named name: String) -> NodeReport? { nodes.first { $0.name == name } }
}
