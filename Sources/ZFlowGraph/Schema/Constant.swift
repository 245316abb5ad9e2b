// Constant values written in a `.zflow` file, a parameter default or a `--set`.

/// A literal value. Each case is type-tagged: `1`, `1.0` and `true` are different
/// constants and give different cache keys.
public enum Constant: Hashable, Sendable, CustomStringConvertible {
    case int(Int)
    case float(Double)
    case bool(Bool)
    case string(String)
    case list([Constant])

    /// The literal as it would be written in a `.zflow` file.
    public var description: String {
        switch self {
        case .int(let value): String(value)
        case .float(let value): Constant.formatFloat(value)
        case .bool(let value): value ? "true" : "false"
        case .string(let value): Constant.quote(value)
        case .list(let items): "[" + items.map(\.description).joined(separator: ", ") + "]"
        }
    }

    /// A canonical, type-tagged spelling used in cache keys.
    public var canonicalKey: String {
        switch self {
        case .int(let value): "int:\(value)"
        case .float(let value): "float:\(value)"
        case .bool(let value): "bool:\(value)"
        case .string(let value): "string:\(value.utf8.count):\(value)"
        case .list(let items): "list:\(items.count)[" + items.map(\.canonicalKey).joined(separator: ",") + "]"
        }
    }

    /// The type the literal has on its own (an empty list is a list of Int).
    public var naturalType: PortType {
        switch self {
        case .int: .int
        case .float: .float
        case .bool: .bool
        case .string: .string
        case .list(let items):
            .list(items.dropFirst().reduce(items.first?.naturalType ?? .int) { common, item in
                let type = item.naturalType
                return common.accepts(type) ? common : type.accepts(common) ? type : common
            })
        }
    }

    /// Converts the literal to `type`, or nil when it does not fit. An integer
    /// becomes a float for a `Float` port; a string is a `Path` for a `Path` port.
    public func converted(to type: PortType) -> Constant? {
        switch (self, type) {
        case (.int, .int), (.float, .float), (.bool, .bool), (.string, .string), (.string, .path):
            return self
        case (.int(let value), .float):
            return .float(Double(value))
        case (.list(let items), .list(let element)):
            var converted: [Constant] = []
            for item in items {
                guard let item = item.converted(to: element) else { return nil }
                converted.append(item)
            }
            return .list(converted)
        default:
            return nil
        }
    }

    /// The Swift value a node receives: Int, Double, Bool, String, or an array of those.
    public var swiftValue: any Sendable {
        switch self {
        case .int(let value): value
        case .float(let value): value
        case .bool(let value): value
        case .string(let value): value
        case .list(let items):
            if items.allSatisfy({ if case .int = $0 { true } else { false } }) {
                items.compactMap { if case .int(let value) = $0 { value } else { nil } } as [Int]
            } else if items.allSatisfy({ if case .float = $0 { true } else { false } }) {
                items.compactMap { if case .float(let value) = $0 { value } else { nil } } as [Double]
            } else if items.allSatisfy({ if case .bool = $0 { true } else { false } }) {
                items.compactMap { if case .bool(let value) = $0 { value } else { nil } } as [Bool]
            } else if items.allSatisfy({ if case .string = $0 { true } else { false } }) {
                items.compactMap { if case .string(let value) = $0 { value } else { nil } } as [String]
            } else {
                items.map(\.swiftValue) as [any Sendable]
            }
        }
    }

    /// The type named in messages: the natural type, or the element types of a mixed list.
    public var typeName: String {
        guard case .list(let items) = self else { return naturalType.description }
        var names: [String] = []
        for item in items where !names.contains(item.typeName) { names.append(item.typeName) }
        let unified = naturalType
        if case .list(let element) = unified,
           items.allSatisfy({ element.accepts($0.naturalType) }) { return unified.description }
        return "a list mixing " + names.joined(separator: " and ")
    }

    /// The numeric value, for range checks.
    var numericValue: Double? {
        switch self {
        case .int(let value): Double(value)
        case .float(let value): value
        default: nil
        }
    }

    static func formatFloat(_ value: Double) -> String {
        let text = String(value)
        return text.contains(".") || text.contains("e") || text.contains("n") || text.contains("i") ? text : text + ".0"
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
