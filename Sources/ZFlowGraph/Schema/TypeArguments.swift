// Outputs whose type an argument names (`OutputSpec.typeArgument`): which inputs
// are such arguments and which types they may name.

extension NodeSchema {
    /// Whether the input `name` names the type of an output.
    public func isTypeArgument(_ name: String) -> Bool {
        outputs.contains { $0.typeArgument == name }
    }

    /// The types `output` can take: the named types its declared type accepts, narrowed to
    /// the choices of its type argument when that input lists any (in their order, else by
    /// name). Only the declared type for an output without a type argument.
    public func typeChoices(for output: OutputSpec) -> [PortType] {
        guard let argument = output.typeArgument else { return [output.type] }
        let candidates: [PortType]
        if case .choices(let choices)? = input(named: argument)?.constraint {
            candidates = choices.compactMap { if case .string(let name) = $0 { PortType(name: name) } else { nil } }
        } else {
            candidates = PortType.namedTypes.values.sorted { $0.description < $1.description }
        }
        return candidates.filter(output.type.accepts)
    }
}
