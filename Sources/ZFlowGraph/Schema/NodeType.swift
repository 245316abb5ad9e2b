// A node type: a static schema plus `execute`. Built-in nodes and plugins
// implement it the same way and register it in a `NodeRegistry`.

public protocol NodeType: Sendable {
    var schema: NodeSchema { get }
    /// Maps the inputs to one value per declared output. Runs on a Dispatch
    /// worker; it may block (BLAS) but must not depend on other nodes running.
    func execute(_ inputs: NodeInputs) throws -> NodeOutputs
    /// Names the code that computes this node's numbers where it can vary within one ZFlow
    /// version (e.g. the kernel backend chosen for its ops); part of the node's cache key, so
    /// that results of another implementation are never served. "" (the default) when nothing varies.
    var implementationIdentity: String { get }
}

extension NodeType {
    public var implementationIdentity: String { "" }
}

/// A node type defined by a schema and a closure.
public struct ClosureNode: NodeType {
    public let schema: NodeSchema
    private let body: @Sendable (NodeInputs) throws -> NodeOutputs

    public init(_ schema: NodeSchema, execute body: @escaping @Sendable (NodeInputs) throws -> NodeOutputs) {
        self.schema = schema
        self.body = body
    }

    public func execute(_ inputs: NodeInputs) throws -> NodeOutputs { try body(inputs) }
}

/// An error a node throws about its inputs or its work.
public struct NodeError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The values a node receives, by input name. Constants arrive as Int, Double,
/// Bool, String (also for `Path`) or arrays of those; node outputs as produced.
public struct NodeInputs: Sendable {
    public let nodeName: String
    private let values: [String: any Sendable]
    /// The outputs this run needs: every output, less the on-demand ones nothing reads.
    public let requestedOutputs: Set<String>

    public init(nodeName: String, values: [String: any Sendable], requestedOutputs: Set<String>) {
        self.nodeName = nodeName
        self.values = values
        self.requestedOutputs = requestedOutputs
    }

    /// The value of an optional input, nil when the graph left it out.
    public func optional(_ name: String) -> (any Sendable)? { values[name] }

    /// The value of `name` cast to `T`; throws naming the input when missing or of another type.
    public func value<T>(_ name: String, as type: T.Type = T.self) throws -> T {
        guard let raw = values[name] else { throw NodeError("input '\(name)' is missing") }
        guard let typed = raw as? T else {
            throw NodeError("input '\(name)' holds a \(Swift.type(of: raw)), expected \(T.self)")
        }
        return typed
    }

    public func int(_ name: String) throws -> Int { try value(name) }
    public func float(_ name: String) throws -> Double { try value(name) }
    public func bool(_ name: String) throws -> Bool { try value(name) }
    public func string(_ name: String) throws -> String { try value(name) }
    public func path(_ name: String) throws -> String { try value(name) }
}

/// The values a node produces, by output name.
public struct NodeOutputs: Sendable {
    public private(set) var values: [String: any Sendable]

    public init(_ values: [String: any Sendable] = [:]) { self.values = values }

    public subscript(name: String) -> (any Sendable)? {
        get { values[name] }
        set { values[name] = newValue }
    }
}
