// Resolves the arguments of one call that name an output's type
// (`OutputSpec.typeArgument`, e.g. `as: Latent` or `as: "Latent"` of LoadTensor),
// so that edges from such outputs are checked against the type the call names.
// Types are fixed when the file is checked: a parameter (which `--set` could change
// after checking) or a node output cannot supply them.

struct TypeArgumentResolution {
    /// The type of each output of the call: the declared one, or the one its type argument
    /// names (its default when the call leaves it out). An output whose argument is in error is absent.
    private(set) var outputTypes: [String: PortType] = [:]
    /// The value each type argument written in the call stands for: the type's name.
    private(set) var bindings: [String: Constant] = [:]
    private(set) var diagnostics: [Diagnostic] = []

    /// `isParam` and `isNode` tell what a bare name means in the file; any other bare name is a type name.
    init(call: Call, schema: NodeSchema, isParam: (String) -> Bool, isNode: (String) -> Bool) {
        var named: [String: PortType] = [:]
        for argument in schema.inputs.map(\.name) where schema.isTypeArgument(argument) {
            guard let written = call.arguments.first(where: { $0.label == argument }) else {
                if case .string(let name)? = schema.input(named: argument)?.defaultValue {
                    named[argument] = PortType(name: name)
                }
                continue
            }
            let users = schema.outputs.filter { $0.typeArgument == argument }
            let choices = schema.typeChoices(for: users[0]).filter { type in
                users.allSatisfy { schema.typeChoices(for: $0).contains(type) }
            }
            let context = "argument '\(argument)' of \(schema.name)"
            if let type = resolve(written.value, context: context, choices: choices, isParam: isParam, isNode: isNode) {
                named[argument] = type
                bindings[argument] = .string(type.description)
            }
        }
        for output in schema.outputs {
            guard let argument = output.typeArgument else {
                outputTypes[output.name] = output.type
                continue
            }
            let isWritten = call.arguments.contains { $0.label == argument }
            if let type = named[argument] ?? (isWritten ? nil : output.type) {
                outputTypes[output.name] = type
            }
        }
    }

    /// The type `value` names, when it is one of `choices`; reports why not otherwise.
    private mutating func resolve(_ value: Expression, context: String, choices: [PortType],
                                  isParam: (String) -> Bool, isNode: (String) -> Bool) -> PortType? {
        let listed = choices.map(\.description).joined(separator: ", ")
        let name: String
        switch value {
        case .literal(.string(let text), _):
            name = text
        case .reference(let reference, _, let port, _):
            if isParam(reference) || isNode(reference) {
                let what = isParam(reference) ? "parameter" : "node"
                diagnostics.append(Diagnostic(value.range, "\(context) names an output type, which is fixed when the file "
                    + "is checked: write one of \(listed), not \(what) '\(reference)'"))
                return nil
            }
            name = port.map { "\(reference).\($0)" } ?? reference
        case .literal(let constant, _):
            diagnostics.append(Diagnostic(value.range, "\(context) expects a type name (one of \(listed)), got \(constant.typeName)"))
            return nil
        case .list:
            diagnostics.append(Diagnostic(value.range, "\(context) expects a type name (one of \(listed)), got a list"))
            return nil
        }
        guard let type = PortType(name: name) else {
            let names = choices.map(\.description)
            let hint = Suggestions.hint(for: name, in: names)
            diagnostics.append(Diagnostic(value.range, "unknown type '\(name)' for \(context)"
                + (hint.isEmpty ? " (one of \(listed))" : hint)))
            return nil
        }
        guard choices.contains(type) else {
            diagnostics.append(Diagnostic(value.range, "\(context) cannot name \(type): the output can be \(listed)"))
            return nil
        }
        return type
    }
}
