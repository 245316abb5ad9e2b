// The text of `zflow nodes`: one line per node type, or one type in full.

public enum Catalogue {
    /// One line per registered type: name and one-line doc.
    public static func summary(_ registry: NodeRegistry) -> String {
        let types = registry.allTypes.map(\.schema)
        guard !types.isEmpty else {
            return "No node types are registered. Node types come from ZFlowNodes and from plugins (--plugin PATH).\n"
        }
        let width = types.map(\.name.count).max() ?? 0
        var out = ""
        for schema in types {
            out += schema.name.padding(width) + "  " + schema.doc + "\n"
        }
        out += "\n\(types.count) node type\(types.count == 1 ? "" : "s"). `zflow nodes TYPE` shows a type's ports.\n"
        return out
    }

    /// A node type with its inputs (type, default, constraint, doc) and outputs.
    public static func details(_ schema: NodeSchema) -> String {
        var traits = ["version \(schema.version)"]
        if schema.isHeavy { traits.append("heavy") }
        if !schema.isCacheable { traits.append("not cached") }
        var out = "\(schema.name) (\(traits.joined(separator: ", ")))\n  \(schema.doc)\n"
        let inputRows = schema.inputs.map { input -> (String, String) in
            var left = "\(input.name): \(input.type)"
            if let value = input.defaultValue { left += " = \(value)" }
            var notes: [String] = []
            if input.isRequired { notes.append("required") }
            if input.isOptional { notes.append("optional") }
            if let constraint = input.constraint {
                switch constraint {
                case .range: notes.append("range \(constraint)")
                case .choices: notes.append("one of \(constraint)")
                }
            }
            let doc = notes.isEmpty ? input.doc : "\(input.doc) (\(notes.joined(separator: "; ")))"
            return (left, doc)
        }
        let outputRows = schema.outputs.map { output -> (String, String) in
            var notes: [String] = []
            if output.isOnDemand { notes.append("on demand") }
            if let argument = output.typeArgument { notes.append("the type '\(argument)' names") }
            return ("\(output.name): \(output.type)", notes.isEmpty ? output.doc : "\(output.doc) (\(notes.joined(separator: "; ")))")
        }
        let width = (inputRows + outputRows).map(\.0.count).max() ?? 0
        out += "\nInputs:\n"
        out += inputRows.isEmpty ? "  (none)\n" : inputRows.map { "  \($0.0.padding(width))  \($0.1)\n" }.joined()
        out += "Outputs:\n"
        out += outputRows.isEmpty ? "  (none: a sink)\n" : outputRows.map { "  \($0.0.padding(width))  \($0.1)\n" }.joined()
        let required = schema.inputs.filter(\.isRequired).map { "\($0.name): ..." }.joined(separator: ", ")
        let call = "\(schema.name)(\(required))"
        out += "\nUse:\n  \(schema.outputs.isEmpty ? call : "x = " + call)\n"
        return out
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
