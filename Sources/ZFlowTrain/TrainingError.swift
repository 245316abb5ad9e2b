/// A training input that cannot be used as given: names the parameter key, pattern or checkpoint
/// key involved and what is wrong with it.
public enum TrainingError: Error, CustomStringConvertible, Equatable, Sendable {
    case badPattern(pattern: String, reason: String)
    case patternMatchesNothing(pattern: String, parameterCount: Int)
    case unknownParameter(key: String, context: String)
    case frozenParameter(key: String)
    case shapeMismatch(key: String, context: String, shape: [Int], expected: [Int])
    case nonFiniteGradient(key: String, context: String)
    case invalidSetting(name: String, value: String, reason: String)
    case accumulationIncomplete(received: Int, expected: Int)
    case emaNameCollision(emaKey: String, keys: [String])
    case checkpoint(origin: String, key: String?, reason: String)

    public var description: String {
        switch self {
        case let .badPattern(pattern, reason):
            return "key pattern '\(pattern)': \(reason)"
        case let .patternMatchesNothing(pattern, count):
            return "key pattern '\(pattern)' matches none of the \(count) parameter keys"
        case let .unknownParameter(key, context):
            return "\(context): '\(key)' is not a parameter"
        case let .frozenParameter(key):
            return "gradient for frozen parameter '\(key)' (unfreeze it or leave it out of the gradients)"
        case let .shapeMismatch(key, context, shape, expected):
            return "\(context) '\(key)' has shape \(shape), the parameter has \(expected)"
        case let .nonFiniteGradient(key, context):
            return "\(context): the gradients' total norm is not finite (first non-finite value in '\(key)')"
        case let .invalidSetting(name, value, reason):
            return "\(name) = \(value): \(reason)"
        case let .accumulationIncomplete(received, expected):
            return "gradient accumulation over \(expected) micro-steps has received \(received)"
        case let .emaNameCollision(emaKey, keys):
            return "parameters \(keys.map { "'\($0)'" }.joined(separator: " and ")) both become EMA key '\(emaKey)' "
                + "once their dots are removed"
        case let .checkpoint(origin, key, reason):
            if let key { return "\(origin): '\(key)': \(reason)" }
            return "\(origin): \(reason)"
        }
    }
}
