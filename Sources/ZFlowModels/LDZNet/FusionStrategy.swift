import Foundation
import ZFlowTensor

/// How ZNet takes in the SD feature at one LD-ZNet position (spec section 7). A strategy is a
/// type: it loads its own weights from the position's scope (the spatial transformer's module,
/// e.g. `down_blocks.2.attentions.1.*`) and, per run, turns the SD feature into a hook on that
/// transformer. Adding a strategy = a new type registered in a `FusionRegistry`; the UNet and
/// ZNet stay as they are. A plugin library links the dynamic `ZFlowModels` product and registers
/// its strategies into `FusionRegistry.shared` when zflow loads it (docs/plugins.md).
public protocol FusionStrategy: Sendable {
    /// The name graphs and the CLI use (`cross_attention`, `concat`, `none`).
    static var name: String { get }
    /// Module names (relative to the position) whose weights this strategy owns, each ending
    /// in "."; a checkpoint loader uses them to tell this strategy's keys from another one's.
    static var parameterPrefixes: [String] { get }
    /// Whether runs need the SD feature of the position.
    static var needsSDFeature: Bool { get }

    /// Starting values of this strategy's parameters at `position`, keyed relative to it (each
    /// under one of `parameterPrefixes`), for training from a weights file that holds none of
    /// them. `seed` is already distinct per position; the same seed must give the same values.
    /// nil (the default): the strategy cannot start without stored weights.
    static func initialParameters(position: FusionPosition, seed: UInt64) throws -> [String: Tensor]?

    init(_ weights: WeightReader, position: FusionPosition) throws

    var position: FusionPosition { get }

    /// The change to the position's transformer for one run. `sdFeature` is the SD UNet's tap at
    /// the same position, [B, C, h, w] for a batch of B (nil only when `needsSDFeature` is false).
    func hook(sdFeature: Tensor?) throws -> (any SpatialTransformerHook)?
}

extension FusionStrategy {
    public static func initialParameters(position: FusionPosition, seed: UInt64) throws -> [String: Tensor]? { nil }
}

/// A fusion problem caused by the caller: a name nobody registered, or a missing feature.
public enum FusionError: Error, CustomStringConvertible, Equatable {
    case unknownStrategy(name: String, available: [String])
    case duplicateStrategy(name: String)
    case missingFeature(tap: Int, fusion: String)
    case missingPoolGridSize(tap: Int, path: String)
    case initialParameterNotOwned(fusion: String, key: String, prefixes: [String])

    public var description: String {
        switch self {
        case let .unknownStrategy(name, available):
            return "unknown fusion '\(name)'; available: \(available.joined(separator: ", "))"
        case let .duplicateStrategy(name):
            return "a fusion named '\(name)' is already registered"
        case let .missingFeature(tap, fusion):
            return "fusion '\(fusion)' needs the SD feature of tap \(tap), which was not given"
        case let .missingPoolGridSize(tap, path):
            return "tap \(tap) (\(path)): the attention pool's stored grid size S is unknown"
        case let .initialParameterNotOwned(fusion, key, prefixes):
            return "fusion '\(fusion)' initialises '\(key)', which is under none of its parameterPrefixes ("
                + prefixes.map { "'\($0)'" }.joined(separator: ", ") + ")"
        }
    }
}

/// The fusion strategies by name. `shared` holds the built-in ones; node plugins register more.
public final class FusionRegistry: @unchecked Sendable {
    public static let shared = FusionRegistry(CrossAttentionFusion.self, ConcatFusion.self, NoFusion.self)

    private var strategies: [String: any FusionStrategy.Type] = [:]
    private let lock = NSLock()

    public init(_ builtIn: any FusionStrategy.Type...) {
        for strategy in builtIn { strategies[strategy.name] = strategy }
    }

    /// Adds `strategy` under its `name`; a name can be registered once.
    public func register(_ strategy: any FusionStrategy.Type) throws {
        try lock.withLock {
            guard strategies[strategy.name] == nil else { throw FusionError.duplicateStrategy(name: strategy.name) }
            strategies[strategy.name] = strategy
        }
    }

    /// The strategy registered as `name`.
    public func strategy(named name: String) throws -> any FusionStrategy.Type {
        try lock.withLock {
            guard let strategy = strategies[name] else {
                throw FusionError.unknownStrategy(name: name, available: strategies.keys.sorted())
            }
            return strategy
        }
    }

    /// Every registered strategy, sorted by name.
    public var all: [any FusionStrategy.Type] {
        lock.withLock { strategies.keys.sorted().compactMap { strategies[$0] } }
    }

    public var names: [String] { all.map { $0.name } }
}
