import ZFlowIO
import ZFlowTensor

/// Named tensors keyed by checkpoint key (`model.diffusion_model.input_blocks.1.1.proj_in.weight`,
/// the names the loaders already use): a model's parameters, their gradients (the same keys), or
/// one slot of optimizer state. The dotted keys are the tree's paths; `KeyPattern` selects
/// subtrees. A value type: building a tree copies no tensor data.
public struct TensorTree: Sendable {
    public private(set) var tensors: [String: Tensor]

    public init(_ tensors: [String: Tensor] = [:]) {
        self.tensors = tensors
    }

    /// The tensors of `source` whose keys start with `prefix`, as the source gives them (f32
    /// safetensors stay memory-mapped): what inference uses, and what training starts from.
    public init(source: TensorSource, prefix: String = "") throws {
        var tensors: [String: Tensor] = [:]
        for key in source.keys where key.hasPrefix(prefix) { tensors[key] = try source.tensor(key) }
        self.init(tensors)
    }

    /// The keys in sorted order.
    public var keys: [String] { tensors.keys.sorted() }

    public var count: Int { tensors.count }

    public subscript(key: String) -> Tensor? {
        get { tensors[key] }
        set { tensors[key] = newValue }
    }

    /// The keys that `pattern` matches, sorted.
    public func keys(matching pattern: KeyPattern) -> [String] {
        keys.filter(pattern.matches)
    }
}
