import Foundation

// The catalogue of node types and port codecs. Built-in nodes, tests and
// dynamically loaded plugins all register through this one public API.

public struct RegistrationError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

public final class NodeRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var types: [String: any NodeType] = [:]
    private var codecs: [PortType: any PortCodec] = [:]

    private var lastPluginFailure: String?

    public init() {}

    /// The error a plugin's registration threw, passed back to the loader.
    var pluginFailure: String? {
        get { lock.withLock { lastPluginFailure } }
        set { lock.withLock { lastPluginFailure = newValue } }
    }

    /// Adds a node type; its name must be new and its schema well formed.
    public func register(_ node: any NodeType) throws {
        let schema = node.schema
        try Self.validate(schema)
        try lock.withLock {
            if types[schema.name] != nil {
                throw RegistrationError(message: "node type '\(schema.name)' is already registered")
            }
            types[schema.name] = node
        }
    }

    /// Sets the codec that serializes values of `type` (replacing any earlier one).
    public func register(codec: any PortCodec, for type: PortType) {
        lock.withLock { codecs[type] = codec }
    }

    public func nodeType(named name: String) -> (any NodeType)? {
        lock.withLock { types[name] }
    }

    /// All registered node types, sorted by name.
    public var allTypes: [any NodeType] {
        lock.withLock { types.values.sorted { $0.schema.name < $1.schema.name } }
    }

    public var typeNames: [String] { allTypes.map(\.schema.name) }

    /// The codec for `type`: a registered one, or the built-in literal codec for scalars and their lists.
    public func codec(for type: PortType) -> (any PortCodec)? {
        if let codec = lock.withLock({ codecs[type] }) { return codec }
        return LiteralCodec.handles(type) ? LiteralCodec(type: type) : nil
    }

    private static func validate(_ schema: NodeSchema) throws {
        func fail(_ message: String) -> RegistrationError {
            RegistrationError(message: "node type '\(schema.name)': \(message)")
        }
        guard Lexer.isIdentifier(schema.name) else { throw fail("the name is not an identifier") }
        var seen: Set<String> = []
        for input in schema.inputs {
            guard Lexer.isIdentifier(input.name), seen.insert(input.name).inserted else {
                throw fail("input '\(input.name)' is not a unique identifier")
            }
            if let value = input.defaultValue {
                guard let converted = value.converted(to: input.type) else {
                    throw fail("default \(value) of input '\(input.name)' is not a \(input.type)")
                }
                if let constraint = input.constraint, !constraint.admits(converted) {
                    throw fail("default \(value) of input '\(input.name)' is outside \(constraint)")
                }
            }
        }
        seen = []
        for output in schema.outputs {
            guard Lexer.isIdentifier(output.name), seen.insert(output.name).inserted else {
                throw fail("output '\(output.name)' is not a unique identifier")
            }
            if let argument = output.typeArgument {
                try validateTypeArgument(argument, of: output, in: schema, fail: fail)
            }
        }
    }

    /// A type argument is a String input whose default and choices all name types the output can take.
    private static func validateTypeArgument(_ argument: String, of output: OutputSpec, in schema: NodeSchema,
                                             fail: (String) -> RegistrationError) throws {
        guard let input = schema.input(named: argument), input.type == .string else {
            throw fail("output '\(output.name)' takes its type from '\(argument)', which is not a String input")
        }
        let choices = schema.typeChoices(for: output)
        guard !choices.isEmpty else { throw fail("output '\(output.name)' can take no type") }
        if case .choices(let listed)? = input.constraint, listed.count != choices.count {
            throw fail("input '\(argument)' lists a choice that is not a type \(output.type) output '\(output.name)' can take")
        }
        if case .string(let name)? = input.defaultValue, !choices.contains(where: { $0.description == name }) {
            throw fail("default \(Constant.string(name)) of input '\(argument)' is not a type output '\(output.name)' can take")
        }
    }
}
