// Reading a single literal from text: `--set` values and cached scalars.

public struct ValueParseError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

extension Constant {
    /// Parses `text` as a value of `type`. Unless `quotedStrings`, a `String` or
    /// `Path` may be written without quotes (`--set image=cat.png`).
    public static func parse(_ text: String, as type: PortType, quotedStrings: Bool = false) throws -> Constant {
        if !quotedStrings, type == .string || type == .path, !text.hasPrefix("\"") {
            return .string(text)
        }
        var parser = Parser(source: text)
        guard let expression = parser.parseStandaloneValue(), parser.diagnostics.isEmpty else {
            let reason = parser.diagnostics.first?.message ?? "not a value"
            throw ValueParseError(message: "'\(text)' is not a \(type) value: \(reason)")
        }
        guard let constant = expression.literalValue else {
            throw ValueParseError(message: "'\(text)' is not a \(type) value: names are not allowed here")
        }
        guard let converted = constant.converted(to: type) else {
            throw ValueParseError(message: "'\(text)' has type \(constant.typeName), expected \(type)")
        }
        return converted
    }
}

extension Expression {
    /// The constant a literal or a list of literals denotes; nil if it holds a name.
    var literalValue: Constant? {
        switch self {
        case .literal(let constant, _): return constant
        case .list(let items, _):
            var constants: [Constant] = []
            for item in items {
                guard let constant = item.literalValue else { return nil }
                constants.append(constant)
            }
            return .list(constants)
        case .reference: return nil
        }
    }
}
