import ZFlowIO

/// Where an inferred architecture value was read: one dimension of a stored tensor, or how many
/// numbered modules the file stores (the last one found named).
public enum ShapeEvidence: Sendable, Equatable {
    /// The value is `shape[axis] / scale` of the stored tensor `tensor`.
    case dimension(tensor: String, shape: [Int], axis: Int, scale: Int)
    /// The weights hold `held` numbered modules; `last` is a stored tensor of the last one.
    case count(held: Int, last: String, shape: [Int])
    /// An attention pool's positional embedding [C, S*S+1]: the value is S.
    case poolGrid(tensor: String, shape: [Int])
    /// A module is present (`shape` given) or absent (nil): e.g. a level with or without attention.
    case presence(tensor: String, shape: [Int]?)

    static func dimension(_ tensor: String, _ shape: [Int], axis: Int, scale: Int = 1) -> ShapeEvidence {
        .dimension(tensor: tensor, shape: shape, axis: axis, scale: scale)
    }

    /// Whether `declared` is the value this evidence shows (presence evidence holds no number).
    func agrees(with declared: Int) -> Bool {
        switch self {
        case let .dimension(_, shape, axis, scale):
            let (product, overflow) = declared.multipliedReportingOverflow(by: scale)
            return !overflow && product == shape[axis]
        case let .count(held, _, _): return held == declared
        case let .poolGrid(_, shape):
            let (square, overflow) = declared.multipliedReportingOverflow(by: declared)
            return !overflow && square + 1 == shape[1]
        case .presence: return true
        }
    }

    /// The value shown, for `dimension` and `count`.
    var value: Int? {
        switch self {
        case let .dimension(_, shape, axis, scale): return shape[axis] / scale
        case let .count(held, _, _): return held
        case .poolGrid, .presence: return nil
        }
    }
}

/// A config value (from a `config.json`, a sidecar or a caller) that the weights contradict: it
/// names the config key, the tensor that shows the true value and, for a dimension, both the
/// stored shape and the one the config implies. Raised before any buffer is allocated.
public struct ConfigMismatchError: Error, CustomStringConvertible, Equatable {
    /// The file the config came from, or a description ("the SD v1 defaults").
    public let config: String
    public let key: String
    public let value: String
    /// The weights file.
    public let weights: String
    public let evidence: ShapeEvidence

    public var description: String {
        let head = "\(config): config '\(key)' = \(value) does not fit \(weights): "
        switch evidence {
        case let .dimension(tensor, shape, axis, scale):
            var implied = shape.map(String.init)
            let declared = Int(value).map { v in
                let (product, overflow) = v.multipliedReportingOverflow(by: scale)
                return overflow ? "\(scale)*\(v)" : String(product)
            } ?? value
            implied[axis] = declared
            return head + "tensor '\(tensor)' has shape \(shape), the config implies [\(implied.joined(separator: ", "))]"
        case let .count(held, last, shape):
            return head + "the weights hold \(held) (the last is tensor '\(last)' with shape \(shape))"
        case let .poolGrid(tensor, shape):
            return head + "tensor '\(tensor)' has shape \(shape), the config implies [\(shape[0]), \(value)*\(value)+1]"
        case let .presence(tensor, shape?):
            return head + "tensor '\(tensor)' is stored (shape \(shape))"
        case let .presence(tensor, nil):
            return head + "tensor '\(tensor)' is not stored"
        }
    }
}

/// An architecture that cannot be read from the weights: the component is not there, or a value
/// the shapes do not hold cannot take its SD v1 convention and no config gives it.
public enum ArchitectureError: Error, CustomStringConvertible, Equatable {
    case notFound(component: String, weights: String, tensor: String)
    case conventionDoesNotFit(component: String, key: String, convention: String, reason: String, weights: String,
                              sidecar: String)

    public var description: String {
        switch self {
        case let .notFound(component, weights, tensor):
            return "\(weights): cannot read the \(component) architecture: tensor '\(tensor)' is not stored"
        case let .conventionDoesNotFit(component, key, convention, reason, weights, sidecar):
            return "\(weights): the \(component) config '\(key)' is not held by the tensor shapes and its SD v1 value "
                + "\(convention) does not fit (\(reason)); give it in \(sidecar) under \"\(component)\""
        }
    }
}

/// The stored shapes of a component whose tensors are named through `stored`.
struct TensorProbe: Sendable {
    let source: TensorSource
    /// Name in the probe's naming -> stored key.
    let stored: @Sendable (String) -> String

    func key(_ name: String) -> String { stored(name) }
    func shape(_ name: String) -> [Int]? { source.shape(of: stored(name)) }

    /// How many of `name(0)`, `name(1)`, ... are stored, counting from 0 until one is missing,
    /// with the evidence of the last (nil when none is). Never counts past the number of keys.
    func count(_ name: (Int) -> String) -> (count: Int, evidence: ShapeEvidence?) {
        var count = 0
        var evidence: ShapeEvidence?
        while count <= source.keys.count, let shape = shape(name(count)) {
            count += 1
            evidence = .count(held: count, last: key(name(count - 1)), shape: shape)
        }
        return (count, evidence)
    }

    /// `dimension` evidence for `axis` of `name` when it is stored with `rank` dimensions.
    func dimension(_ name: String, axis: Int, rank: Int, scale: Int = 1) -> ShapeEvidence? {
        guard let shape = shape(name), shape.count == rank else { return nil }
        return .dimension(key(name), shape, axis: axis, scale: scale)
    }

    func presence(_ name: String) -> ShapeEvidence { .presence(tensor: key(name), shape: shape(name)) }

    /// This probe addressed through `table` (diffusers names -> names in this probe's naming).
    func through(_ table: ModuleRenameTable) -> TensorProbe {
        TensorProbe(source: source) { [stored] in stored(table.storedKey($0)) }
    }
}

/// Compares declared config values with what the weights show, throwing the first contradiction.
struct ConfigChecker {
    /// Where the config came from (a file path or a description).
    let config: String
    let weights: String

    /// `declared` against `evidence` (nothing to compare when the evidence is missing); `shown` is
    /// how the message writes the declared value when it is not `declared` itself (a list's length).
    func check(_ key: String, _ declared: Int, _ evidence: ShapeEvidence?, shown: String? = nil) throws {
        guard let evidence, !evidence.agrees(with: declared) else { return }
        throw ConfigMismatchError(config: config, key: key, value: shown ?? String(declared), weights: weights,
                                  evidence: evidence)
    }

    /// A declared choice (`value`) that requires a module to be stored (`needsModule`) or not.
    func check(_ key: String, _ value: String, needsModule: Bool, _ evidence: ShapeEvidence) throws {
        guard case let .presence(_, shape) = evidence, (shape != nil) != needsModule else { return }
        throw ConfigMismatchError(config: config, key: key, value: value, weights: weights, evidence: evidence)
    }
}
