import Foundation

/// A diffusers config value given either once for every level or as a per-level list
/// (`attention_head_dim: 8` or `attention_head_dim: [5, 10, 20, 20]`).
public enum PerLevel: Codable, Sendable, Equatable {
    case same(Int)
    case levels([Int])

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int.self) {
            self = .same(value)
        } else {
            self = .levels(try container.decode([Int].self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case let .same(value): try container.encode(value)
        case let .levels(values): try container.encode(values)
        }
    }

    /// The value for each of `levels` levels; a list must have exactly that many entries.
    func values(levels: Int, key: String) throws -> [Int] {
        switch self {
        case let .same(value): return Array(repeating: value, count: levels)
        case let .levels(values):
            guard values.count == levels else {
                throw ConfigError.invalid(key: key, message: "has \(values.count) entries for \(levels) levels")
            }
            return values
        }
    }
}

/// A `config.json` that ZFlow cannot run, naming the key.
public enum ConfigError: Error, CustomStringConvertible, Equatable {
    case unsupported(key: String, value: String, supported: String)
    case invalid(key: String, message: String)
    case unreadable(file: String, message: String)

    /// The config key the error is about (nil for an unreadable file).
    public var key: String? {
        switch self {
        case let .unsupported(key, _, _), let .invalid(key, _): return key
        case .unreadable: return nil
        }
    }

    public var description: String {
        switch self {
        case let .unsupported(key, value, supported):
            return "config '\(key)' = \(value) is not supported (supported: \(supported))"
        case let .invalid(key, message):
            return "config '\(key)' \(message)"
        case let .unreadable(file, message):
            return "\(file): cannot read config: \(message)"
        }
    }
}

/// Decodes a diffusers `config.json` file.
func decodeConfig<Config: Decodable>(_ type: Config.Type, from url: URL) throws -> Config {
    do {
        return try JSONDecoder().decode(Config.self, from: Data(contentsOf: url))
    } catch let error as ConfigError {
        throw error
    } catch {
        throw ConfigError.unreadable(file: url.path, message: "\(error)")
    }
}

/// Throws `ConfigError.invalid` for the first of `values` (key, value) that is not positive, so
/// that no later check divides by it or sizes anything by it.
func requirePositive(_ values: [(key: String, value: Int)]) throws {
    if let bad = values.first(where: { $0.value <= 0 }) {
        throw ConfigError.invalid(key: bad.key, message: "= \(bad.value) must be positive")
    }
}

func require(_ condition: Bool, key: String, value: @autoclosure () -> String, supported: String) throws {
    if !condition { throw ConfigError.unsupported(key: key, value: value(), supported: supported) }
}
