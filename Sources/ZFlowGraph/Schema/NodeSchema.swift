// What a node type declares about itself: the contract the checker, the
// scheduler, the cache and `zflow nodes` rely on.

/// A range or a list of choices a constant argument must respect.
public enum ValueConstraint: Sendable, Hashable, CustomStringConvertible {
    case range(ClosedRange<Double>)
    case choices([Constant])

    public var description: String {
        switch self {
        case .range(let range):
            "\(Self.formatBound(range.lowerBound))...\(Self.formatBound(range.upperBound))"
        case .choices(let choices):
            choices.map(\.description).joined(separator: ", ")
        }
    }

    /// Whether `value` satisfies the constraint (lists: every element).
    public func admits(_ value: Constant) -> Bool {
        if case .list(let items) = value { return items.allSatisfy(admits) }
        switch self {
        case .range(let range):
            guard let number = value.numericValue else { return true }
            return range.contains(number)
        case .choices(let choices):
            return choices.contains(value)
        }
    }

    private static func formatBound(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}

/// One input port. A port with no default that is not `optional` is required.
public struct InputSpec: Sendable, Hashable {
    public var name: String
    public var type: PortType
    public var defaultValue: Constant?
    public var isOptional: Bool
    public var constraint: ValueConstraint?
    public var doc: String

    public init(_ name: String, _ type: PortType, default defaultValue: Constant? = nil,
                optional: Bool = false, constraint: ValueConstraint? = nil, doc: String) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.isOptional = optional
        self.constraint = constraint
        self.doc = doc
    }

    /// An input whose numeric value must lie in `range`.
    public init(_ name: String, _ type: PortType, default defaultValue: Constant? = nil,
                range: ClosedRange<Double>, doc: String) {
        self.init(name, type, default: defaultValue, constraint: .range(range), doc: doc)
    }

    /// An input whose value must be one of `choices`.
    public init(_ name: String, _ type: PortType, default defaultValue: Constant? = nil,
                choices: [Constant], doc: String) {
        self.init(name, type, default: defaultValue, constraint: .choices(choices), doc: doc)
    }

    public var isRequired: Bool { defaultValue == nil && !isOptional }
}

/// One output port.
public struct OutputSpec: Sendable, Hashable {
    public var name: String
    /// The output's type; for an output with a `typeArgument`, the most general type it can
    /// take, used when no argument names one.
    ///
    /// Codecs (disk cache, byte counts, `--dump`) always go by this declared type, for every
    /// node instance: codecs are registered per declared type and a cache entry records the
    /// type it was written with, so one notion keeps entries readable whatever an argument
    /// named. The argument itself is part of the node's cache key.
    public var type: PortType
    /// The name of a `String` input whose constant value names this output's type per node
    /// instance (`LoadTensor(path: p, as: Latent)`), or nil when the type is always `type`.
    /// The checker resolves it (`GraphNode.outputType(named:)`) and checks edges against it;
    /// it must be a type `type` accepts and, when that input lists choices, one of them.
    public var typeArgument: String?
    public var doc: String
    /// Computed only when the run needs it (a consumer reads it, or it is dumped or
    /// requested); the node sees which through `NodeInputs.requestedOutputs`.
    public var isOnDemand: Bool

    public init(_ name: String, _ type: PortType, typeFrom typeArgument: String? = nil, onDemand: Bool = false,
                doc: String) {
        self.name = name
        self.type = type
        self.typeArgument = typeArgument
        self.isOnDemand = onDemand
        self.doc = doc
    }
}

/// Everything a node type declares about itself.
public struct NodeSchema: Sendable, Hashable {
    /// The type name used in `.zflow` files, e.g. `VAEEncode`.
    public var name: String
    /// One line shown by `zflow nodes`.
    public var doc: String
    /// Bump it when the node's results change: it is part of every cache key.
    public var version: Int
    public var inputs: [InputSpec]
    public var outputs: [OutputSpec]
    /// A heavy (BLAS-bound, multi-threaded) node never runs at the same time as another heavy node.
    public var isHeavy: Bool
    /// A non-cacheable node (one with side effects, or reading the clock) always runs.
    public var isCacheable: Bool

    public init(name: String, doc: String, version: Int = 1, inputs: [InputSpec], outputs: [OutputSpec],
                isHeavy: Bool = false, isCacheable: Bool = true) {
        self.name = name
        self.doc = doc
        self.version = version
        self.inputs = inputs
        self.outputs = outputs
        self.isHeavy = isHeavy
        self.isCacheable = isCacheable
    }

    public func input(named name: String) -> InputSpec? { inputs.first { $0.name == name } }
    public func output(named name: String) -> OutputSpec? { outputs.first { $0.name == name } }
}
