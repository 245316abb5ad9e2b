import Foundation

// Resolves names, node types, arguments and types of a parsed file, and
// reports every problem of the file in one pass, before anything runs.

public enum Checker {
    /// Reads, parses and checks the file at `path` (named as given in messages).
    /// Throws the file-reading error, or `GraphDiagnostics` with all errors (also for bytes that are not UTF-8).
    public static func check(fileAt path: String, registry: NodeRegistry) throws -> CheckedGraph {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        return try check(SourceFile(name: path, bytes: bytes), registry: registry)
    }

    /// Parses and checks `source`; throws `GraphDiagnostics` with all errors.
    public static func check(_ source: SourceFile, registry: NodeRegistry) throws -> CheckedGraph {
        var parser = Parser(source: source.text)
        let tree = parser.parseFile()
        var context = Context(registry: registry, diagnostics: parser.diagnostics)
        let params = context.resolveParams(tree.params)
        let nodes = context.resolveCalls(tree.calls, params: params)
        context.reportCycles(nodes)
        let graph = CheckedGraph(source: source, params: params, nodes: nodes)
        context.diagnostics += graph.constraintViolations(Dictionary(
            params.map { ($0.name, $0.defaultValue) }, uniquingKeysWith: { first, _ in first }))
        if !context.diagnostics.isEmpty {
            throw GraphDiagnostics(source: source, diagnostics: context.diagnostics)
        }
        return graph
    }

    /// "an Int", "a Float", "a list mixing ..." for messages.
    static func withArticle(_ typeName: String) -> String {
        if typeName.hasPrefix("a ") { return typeName }
        return (typeName.first.map { "AEIOU".contains($0) } == true ? "an " : "a ") + typeName
    }

    /// Why `value` breaks the input's range or choices, or nil when it does not.
    static func constraintProblem(_ value: Constant, input: InputSpec) -> String? {
        guard let constraint = input.constraint, !constraint.admits(value) else { return nil }
        switch constraint {
        case .range: return "is out of range \(constraint)"
        case .choices(let choices):
            var problem = "is not one of \(constraint)"
            if case .string(let text) = value,
               let close = Suggestions.closest(to: text, in: choices.compactMap { if case .string(let s) = $0 { s } else { nil } }) {
                problem += " (did you mean \(Constant.string(close))?)"
            }
            return problem
        }
    }

    private struct Context {
        let registry: NodeRegistry
        var diagnostics: [Diagnostic]
        /// Names defined so far (params and nodes), with where they are defined.
        var definitions: [String: SourceRange] = [:]

        init(registry: NodeRegistry, diagnostics: [Diagnostic]) {
            self.registry = registry
            self.diagnostics = diagnostics
        }

        mutating func error(_ range: SourceRange, _ message: String) {
            diagnostics.append(Diagnostic(range, message))
        }

        mutating func define(_ name: String, at range: SourceRange) -> Bool {
            if let first = definitions[name] {
                error(range, "duplicate name '\(name)' (first defined at line \(first.start.line))")
                return false
            }
            definitions[name] = range
            return true
        }

        // MARK: params

        mutating func resolveParams(_ declarations: [ParamDeclaration]) -> [GraphParam] {
            var params: [GraphParam] = []
            for declaration in declarations {
                let isNew = define(declaration.name, at: declaration.nameRange)
                guard let type = PortType(name: declaration.typeName) else {
                    let bare = declaration.typeName.trimmingCharacters(in: ["[", "]"])
                    error(declaration.typeRange, "unknown type '\(bare)'"
                        + Suggestions.hint(for: bare, in: PortType.namedTypes.keys))
                    continue
                }
                guard let constant = declaration.defaultValue.literalValue else {
                    error(declaration.defaultValue.range,
                          "the default of parameter '\(declaration.name)' must be a literal, not a name")
                    continue
                }
                guard let value = constant.converted(to: type) else {
                    error(declaration.defaultValue.range, "parameter '\(declaration.name)' is declared \(type), "
                        + "but its default \(constant) is \(Checker.withArticle(constant.typeName))")
                    continue
                }
                if isNew {
                    params.append(GraphParam(name: declaration.name, type: type, defaultValue: value,
                                             range: declaration.nameRange))
                }
            }
            return params
        }

        // MARK: calls

        mutating func resolveCalls(_ calls: [Call], params: [GraphParam]) -> [GraphNode] {
            var types: [Int: any NodeType] = [:]
            var nodeIndexByName: [String: Int] = [:]
            for (index, call) in calls.enumerated() {
                if let name = call.name, let range = call.nameRange, define(name, at: range) {
                    nodeIndexByName[name] = index
                }
                if let type = registry.nodeType(named: call.typeName) {
                    types[index] = type
                } else {
                    error(call.typeRange, "unknown node type '\(call.typeName)'"
                        + Suggestions.hint(for: call.typeName, in: registry.typeNames))
                }
            }
            let paramsByName = Dictionary(params.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            // Output types first: an edge may come from a node written further down.
            var typeArguments: [Int: TypeArgumentResolution] = [:]
            for (index, call) in calls.enumerated() {
                guard let schema = types[index]?.schema else { continue }
                let resolution = TypeArgumentResolution(call: call, schema: schema, isParam: { paramsByName[$0] != nil },
                                                        isNode: { nodeIndexByName[$0] != nil })
                diagnostics += resolution.diagnostics
                typeArguments[index] = resolution
            }
            let scope = Scope(params: paramsByName, nodes: nodeIndexByName, types: types, calls: calls,
                              typeArguments: typeArguments)
            var nodes: [GraphNode] = []
            for (index, call) in calls.enumerated() {
                if let node = resolveCall(call, index: index, type: types[index], scope: scope) {
                    nodes.append(node)
                }
            }
            return nodes
        }

        struct Scope {
            let params: [String: GraphParam]
            let nodes: [String: Int]
            let types: [Int: any NodeType]
            let calls: [Call]
            /// Output types and type-argument values per call.
            let typeArguments: [Int: TypeArgumentResolution]
            var allNames: [String] { Array(params.keys) + Array(nodes.keys) }
        }

        mutating func resolveCall(_ call: Call, index: Int, type: (any NodeType)?, scope: Scope) -> GraphNode? {
            var inputs: [String: InputBinding] = [:]
            var argumentRanges: [String: SourceRange] = [:]
            let schema = type?.schema
            for argument in call.arguments {
                if argumentRanges[argument.label] != nil {
                    error(argument.labelRange, "argument '\(argument.label)' is given twice")
                    continue
                }
                argumentRanges[argument.label] = argument.value.range
                if let schema, schema.isTypeArgument(argument.label) {
                    // Resolved (and any problem reported) with the output types.
                    inputs[argument.label] = scope.typeArguments[index]?.bindings[argument.label].map(InputBinding.constant)
                    continue
                }
                let input = schema?.input(named: argument.label)
                if let schema, input == nil {
                    let unused = schema.inputs.map(\.name).filter { !call.arguments.map(\.label).contains($0) }
                    error(argument.labelRange, "\(schema.name) has no input '\(argument.label)'"
                        + Suggestions.hint(for: argument.label, in: unused.isEmpty ? schema.inputs.map(\.name) : unused))
                }
                let context = input.map { "argument '\($0.name)' of \(schema!.name)" } ?? ""
                if let binding = resolveValue(argument.value, for: input, context: context, scope: scope) {
                    inputs[argument.label] = binding
                }
            }
            guard let type, let schema else { return nil }
            let missing = schema.inputs.filter { $0.isRequired && argumentRanges[$0.name] == nil }
            if !missing.isEmpty {
                let list = missing.map { "'\($0.name): \($0.type)'" }.joined(separator: ", ")
                error(call.typeRange, "missing argument\(missing.count == 1 ? "" : "s") \(list) for \(schema.name)")
            }
            for input in schema.inputs where argumentRanges[input.name] == nil {
                if let value = input.defaultValue, let converted = value.converted(to: input.type) {
                    inputs[input.name] = .constant(converted)
                }
            }
            return GraphNode(index: index, name: call.name, nodeType: type, range: call.nameRange ?? call.typeRange,
                             inputs: inputs, argumentRanges: argumentRanges,
                             outputTypes: scope.typeArguments[index]?.outputTypes ?? [:])
        }

        /// The binding of one argument value; reports problems and returns nil for them.
        mutating func resolveValue(_ value: Expression, for input: InputSpec?, context: String,
                                   scope: Scope) -> InputBinding? {
            switch value {
            case .literal, .list:
                guard let constant = value.literalValue else {
                    error(value.range, "a list may only hold literals, not names")
                    return nil
                }
                guard let input else { return nil }
                guard let converted = constant.converted(to: input.type) else {
                    error(value.range, "\(context) expects \(input.type), got \(constant.typeName)")
                    return nil
                }
                if let problem = Checker.constraintProblem(converted, input: input) {
                    error(value.range, "value \(constant) of \(context) \(problem)")
                    return nil
                }
                return .constant(converted)
            case .reference(let name, let nameRange, let port, let portRange):
                if let param = scope.params[name] {
                    if let portRange {
                        error(portRange, "parameter '\(name)' has no outputs; write '\(name)' alone")
                        return nil
                    }
                    guard let input else { return nil }
                    guard input.type.accepts(param.type) else {
                        error(nameRange, "\(context) expects \(input.type), got parameter '\(name)' of type \(param.type)")
                        return nil
                    }
                    return .param(name)
                }
                guard let source = scope.nodes[name] else {
                    error(nameRange, "unknown name '\(name)'" + Suggestions.hint(for: name, in: scope.allNames))
                    return nil
                }
                guard let sourceType = scope.types[source]?.schema else { return nil }
                let outputs = sourceType.outputs
                let output: OutputSpec
                if let port, let portRange {
                    guard let found = sourceType.output(named: port) else {
                        error(portRange, "\(sourceType.name) node '\(name)' has no output '\(port)'"
                            + Suggestions.hint(for: port, in: outputs.map(\.name)))
                        return nil
                    }
                    output = found
                } else {
                    // A bare name is the node's one output, not counting on-demand extras.
                    let primary = outputs.filter { !$0.isOnDemand }
                    guard primary.count == 1, let only = primary.first else {
                        let message = outputs.isEmpty
                            ? "\(sourceType.name) node '\(name)' has no outputs"
                            : "\(sourceType.name) node '\(name)' has several outputs "
                                + "(\(outputs.map(\.name).joined(separator: ", "))); write \(name).\(outputs[0].name)"
                        error(nameRange, message)
                        return nil
                    }
                    output = only
                }
                // Absent when the source's type argument is in error (reported already).
                guard let input, let outputType = scope.typeArguments[source]?.outputTypes[output.name] else { return nil }
                guard input.type.accepts(outputType) else {
                    error(value.range, "\(context) expects \(input.type), got \(outputType) from '\(name).\(output.name)'")
                    return nil
                }
                return .output(node: source, port: output.name)
            }
        }

        // MARK: cycles

        /// Reports each cycle once, at its first node in source order.
        mutating func reportCycles(_ nodes: [GraphNode]) {
            let byIndex = Dictionary(nodes.map { ($0.index, $0) }, uniquingKeysWith: { first, _ in first })
            var state: [Int: Int] = [:] // 1 = on the DFS stack, 2 = done
            var stack: [Int] = []
            for node in nodes where state[node.index] == nil {
                // Iterative DFS so that a hostile, very deep graph cannot overflow the stack.
                var frames: [(node: Int, pending: [Int])] = [(node.index, byIndex[node.index]?.dependencies.sorted() ?? [])]
                state[node.index] = 1
                stack.append(node.index)
                while let top = frames.last {
                    guard let next = top.pending.first else {
                        frames.removeLast()
                        stack.removeLast()
                        state[top.node] = 2
                        continue
                    }
                    frames[frames.count - 1].pending.removeFirst()
                    switch state[next] {
                    case 1:
                        guard let start = stack.firstIndex(of: next) else { continue }
                        // The stack runs against the data flow (consumer -> producer); report it along the flow.
                        let cycle = Array(stack[start...]).reversed().compactMap { byIndex[$0] }
                        guard let first = cycle.min(by: { $0.index < $1.index }),
                              let rotation = cycle.firstIndex(where: { $0.index == first.index }) else { continue }
                        let ordered = Array(cycle[rotation...] + cycle[..<rotation])
                        let names = (ordered + [first]).map(\.displayName).joined(separator: " -> ")
                        error(first.range, "cycle: \(names)")
                    case nil:
                        state[next] = 1
                        stack.append(next)
                        frames.append((next, byIndex[next]?.dependencies.sorted() ?? []))
                    default:
                        break
                    }
                }
            }
        }
    }
}
