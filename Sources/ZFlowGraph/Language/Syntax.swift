// The parsed form of a `.zflow` file, before names and types are resolved.

enum Expression: Sendable {
    case literal(Constant, SourceRange)
    case list([Expression], SourceRange)
    /// A param or node name, optionally with `.port`.
    case reference(name: String, nameRange: SourceRange, port: String?, portRange: SourceRange?)

    var range: SourceRange {
        switch self {
        case .literal(_, let range), .list(_, let range): range
        case .reference(_, let nameRange, let port, _):
            SourceRange(nameRange.start, length: nameRange.length + (port.map { $0.unicodeScalars.count + 1 } ?? 0))
        }
    }
}

struct Argument: Sendable {
    var label: String
    var labelRange: SourceRange
    var value: Expression
}

struct ParamDeclaration: Sendable {
    var name: String
    var nameRange: SourceRange
    var typeName: String
    var typeRange: SourceRange
    var defaultValue: Expression
}

/// `name = Type(args)`, or a sink `Type(args)` when `name` is nil.
struct Call: Sendable {
    var name: String?
    var nameRange: SourceRange?
    var typeName: String
    var typeRange: SourceRange
    var arguments: [Argument]
}

struct SyntaxTree: Sendable {
    var params: [ParamDeclaration] = []
    var calls: [Call] = []
}
