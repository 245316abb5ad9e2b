import Foundation

// Serialization of port values, supplied per port type by whoever knows the
// value's Swift type (the node plugins for tensors and images). The core only
// moves the bytes: to the disk cache, and to files for `--dump`.

public protocol PortCodec: Sendable {
    /// Bytes for the disk cache; `decode` must give back an equal value.
    func encode(_ value: any Sendable) throws -> Data
    func decode(_ data: Data) throws -> any Sendable
    /// Bytes of a file a person can open (PNG, safetensors, text), for `--dump`.
    func export(_ value: any Sendable, name: String) throws -> Data
    /// The suggested file extension of `export`, without a dot.
    var exportExtension: String { get }
    /// Approximate memory held by the value, for the in-memory cache budget.
    func byteCount(of value: any Sendable) -> Int
}

/// Ints, floats, bools, strings, paths and lists of them, as canonical `.zflow` literals.
struct LiteralCodec: PortCodec {
    let type: PortType

    func encode(_ value: any Sendable) throws -> Data {
        Data(try literal(value).description.utf8)
    }

    func decode(_ data: Data) throws -> any Sendable {
        let text = String(decoding: data, as: UTF8.self)
        guard let constant = try? Constant.parse(text, as: type, quotedStrings: true) else {
            throw NodeError("cached \(type) value is unreadable")
        }
        return constant.swiftValue
    }

    func export(_ value: any Sendable, name: String) throws -> Data {
        let constant = try literal(value)
        if case .string(let text) = constant { return Data((text + "\n").utf8) }
        return Data((constant.description + "\n").utf8)
    }

    var exportExtension: String { "txt" }

    func byteCount(of value: any Sendable) -> Int {
        (try? encode(value).count) ?? 64
    }

    private func literal(_ value: any Sendable) throws -> Constant {
        guard let constant = LiteralCodec.constant(from: value, type: type) else {
            throw NodeError("a \(Swift.type(of: value)) is not a \(type) value")
        }
        return constant
    }

    static func constant(from value: any Sendable, type: PortType) -> Constant? {
        switch type {
        case .int: return (value as? Int).map(Constant.int)
        case .float: return (value as? Double).map(Constant.float) ?? (value as? Int).map { .float(Double($0)) }
        case .bool: return (value as? Bool).map(Constant.bool)
        case .string, .path: return (value as? String).map(Constant.string)
        case .list(let element):
            guard let items = value as? [any Sendable] ?? (value as? [Int])?.map({ $0 as any Sendable })
                ?? (value as? [Double])?.map({ $0 as any Sendable }) ?? (value as? [Bool])?.map({ $0 as any Sendable })
                ?? (value as? [String])?.map({ $0 as any Sendable }) else { return nil }
            var constants: [Constant] = []
            for item in items {
                guard let constant = constant(from: item, type: element) else { return nil }
                constants.append(constant)
            }
            return .list(constants)
        default: return nil
        }
    }

    /// Whether the literal codec serves `type` (scalars and lists of scalars).
    static func handles(_ type: PortType) -> Bool {
        switch type {
        case .int, .float, .bool, .string, .path: true
        case .list(let element): handles(element)
        default: false
        }
    }
}
