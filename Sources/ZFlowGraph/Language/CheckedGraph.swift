// A graph whose names, types and arguments have been resolved: what the
// planner, the cache and the scheduler work on.

/// Where a node input's value comes from.
public enum InputBinding: Sendable, Hashable {
    case constant(Constant)
    case param(String)
    case output(node: Int, port: String)
}

public struct GraphParam: Sendable {
    public let name: String
    public let type: PortType
    public let defaultValue: Constant
    public let range: SourceRange
}

public struct GraphNode: Sendable {
    /// Position among the file's calls, in source order.
    public let index: Int
    /// The name before `=`; nil for a sink.
    public let name: String?
    public let nodeType: any NodeType
    /// Where the node is written (its name, or its type for a sink).
    public let range: SourceRange
    /// One binding per input the call gives or whose default applies.
    public let inputs: [String: InputBinding]
    /// Where each argument is written, for messages about its value.
    let argumentRanges: [String: SourceRange]
    /// The type of each output for this node: the declared one, or the one its type argument names.
    let outputTypes: [String: PortType]

    public var schema: NodeSchema { nodeType.schema }
    public var isSink: Bool { name == nil }
    /// The name, or `Type (line N)` for a sink.
    public var displayName: String { name ?? "\(schema.name) (line \(range.start.line))" }

    /// The type of output `name` in this node, as the checker checked its edges: the declared type,
    /// or the one named by the output's type argument (`OutputSpec.typeArgument`). Codecs go by
    /// the declared type (`OutputSpec.type`).
    public func outputType(named name: String) -> PortType? { outputTypes[name] }

    /// The nodes whose outputs this node reads.
    public var dependencies: Set<Int> {
        Set(inputs.values.compactMap { if case .output(let node, _) = $0 { node } else { nil } })
    }
}

/// A reference to one output of a named node, as in `--dump prep.image=...`.
public struct OutputReference: Hashable, Sendable, CustomStringConvertible {
    public let node: Int
    public let port: String
    public let nodeName: String
    public var description: String { "\(nodeName).\(port)" }
}

public struct CheckedGraph: Sendable {
    public let source: SourceFile
    public let params: [GraphParam]
    public let nodes: [GraphNode]

    public func node(named name: String) -> GraphNode? { nodes.first { $0.name == name } }
    public func param(named name: String) -> GraphParam? { params.first { $0.name == name } }

    /// The sinks: calls without a name.
    public var sinks: [Int] { nodes.filter(\.isSink).map(\.index) }

    /// Resolves `node` or `node.port`; throws with a suggestion when it names nothing.
    public func output(_ text: String) throws -> OutputReference {
        let parts = text.split(separator: ".", maxSplits: 1).map(String.init)
        let names = nodes.compactMap(\.name)
        guard let nodeName = parts.first, let node = node(named: nodeName) else {
            throw ValueParseError(message: "no node named '\(parts.first ?? text)' in \(source.name)"
                + Suggestions.hint(for: parts.first ?? text, in: names))
        }
        let outputs = node.schema.outputs.map(\.name)
        if parts.count == 2 {
            guard outputs.contains(parts[1]) else {
                throw ValueParseError(message: "\(node.schema.name) node '\(nodeName)' has no output '\(parts[1])'"
                    + Suggestions.hint(for: parts[1], in: outputs))
            }
            return OutputReference(node: node.index, port: parts[1], nodeName: nodeName)
        }
        guard outputs.count == 1, let only = outputs.first else {
            throw ValueParseError(message: "node '\(nodeName)' has outputs \(outputs.joined(separator: ", ")); "
                + "write \(nodeName).PORT")
        }
        return OutputReference(node: node.index, port: only, nodeName: nodeName)
    }

    /// The parameter values after `overrides` (by name) replace defaults.
    /// Throws `ValueParseError` for an unknown name and `GraphDiagnostics` when a
    /// value breaks the range or choices of an argument it feeds.
    public func parameterValues(_ overrides: [String: Constant] = [:]) throws -> [String: Constant] {
        var values: [String: Constant] = [:]
        for param in params { values[param.name] = param.defaultValue }
        for (name, value) in overrides.sorted(by: { $0.key < $1.key }) {
            guard let param = param(named: name) else {
                throw ValueParseError(message: "--set \(name): \(source.name) has no parameter '\(name)'"
                    + Suggestions.hint(for: name, in: params.map(\.name)))
            }
            guard let converted = value.converted(to: param.type) else {
                throw ValueParseError(message: "--set \(name): expected \(param.type), got \(value.typeName)")
            }
            values[name] = converted
        }
        let diagnostics = constraintViolations(values)
        if !diagnostics.isEmpty { throw GraphDiagnostics(source: source, diagnostics: diagnostics) }
        return values
    }

    /// Parses `--set` texts by each parameter's declared type, then applies them.
    public func parameterValues(settings: [String: String]) throws -> [String: Constant] {
        var overrides: [String: Constant] = [:]
        for (name, text) in settings {
            guard let param = param(named: name) else {
                throw ValueParseError(message: "--set \(name): \(source.name) has no parameter '\(name)'"
                    + Suggestions.hint(for: name, in: params.map(\.name)))
            }
            do {
                overrides[name] = try Constant.parse(text, as: param.type)
            } catch let error as ValueParseError {
                throw ValueParseError(message: "--set \(name): \(error.message)")
            }
        }
        return try parameterValues(overrides)
    }

    /// Arguments fed by a parameter whose value breaks the argument's constraint.
    func constraintViolations(_ values: [String: Constant]) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        for node in nodes {
            for input in node.schema.inputs {
                guard case .param(let name)? = node.inputs[input.name], let value = values[name],
                      let converted = value.converted(to: input.type),
                      let problem = Checker.constraintProblem(converted, input: input) else { continue }
                let range = node.argumentRanges[input.name] ?? node.range
                diagnostics.append(Diagnostic(range, "parameter '\(name)' = \(value) \(problem) for"
                    + " argument '\(input.name)' of \(node.schema.name)"))
            }
        }
        return diagnostics
    }
}
