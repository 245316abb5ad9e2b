import ZFlowTensor
import ZFlowTrain

/// One cell's decoder: a small text-conditioned head on one SD tap (docs/training.md, "zflow probe").
///
///     h = SiLU(GroupNorm_8(conv3x3(f)))                  f: the tap [1, C, h, w] -> [1, H, h, w]
///     (gamma, beta) = linear(mean over tokens of text)   text [S, D] -> 2H values
///     h = h * (1 + gamma) + beta                         FiLM, per channel
///     logits = conv1x1(h)                                [1, 1, h, w]
///
/// Training resizes the logits bicubically to the mask (the resize `zflow eval` applies to
/// logits before scoring) and takes BCE-with-logits against it. Parameters are keyed
/// `tap<N>.t<T>.<name>` and start as PyTorch's module defaults (`ParameterInitialisation.random`),
/// each key from its own generator, so a cell's start does not depend on the other cells.
public struct ProbeDecoder {
    public static let groups = 8
    public static let eps: Float = 1e-5

    let prefix: String
    let hidden: Int
    public let parameters: TrainableParameters

    public static func shapes(prefix: String, channels: Int, textWidth: Int, hidden: Int) -> [String: [Int]] {
        [prefix + ".conv.weight": [hidden, channels, 3, 3], prefix + ".conv.bias": [hidden],
         prefix + ".norm.weight": [hidden], prefix + ".norm.bias": [hidden],
         prefix + ".film.weight": [2 * hidden, textWidth], prefix + ".film.bias": [2 * hidden],
         prefix + ".head.weight": [1, hidden, 1, 1], prefix + ".head.bias": [1]]
    }

    public init(prefix: String, channels: Int, textWidth: Int, hidden: Int, seed: UInt64) throws {
        self.prefix = prefix
        self.hidden = hidden
        let shapes = Self.shapes(prefix: prefix, channels: channels, textWidth: textWidth, hidden: hidden)
        parameters = try TrainableParameters(ParameterInitialisation.random(shapes: shapes, seed: seed))
    }

    /// A decoder computing with `tree` as it is (for gradient checks on given values).
    public init(prefix: String, hidden: Int, parameters tree: TensorTree) throws {
        self.prefix = prefix
        self.hidden = hidden
        parameters = try TrainableParameters(tree)
    }

    private func weight(_ name: String) -> Tensor { parameters[prefix + "." + name]! }

    /// Logits at the tap's size, [1, 1, h, w]. `text` is [S, D] (or [1, S, D]).
    public func logits(_ feature: Tensor, text: Tensor) throws -> Tensor {
        guard feature.rank == 4, feature.shape[0] == 1 else {
            throw ShapeError("probe decoder", "feature \(feature.shape), expected [1, C, h, w]")
        }
        let (height, width) = (feature.shape[2], feature.shape[3])
        let h = try groupNorm(try conv2d(feature, weight: weight("conv.weight"), bias: weight("conv.bias"), padding: 1),
                              groups: Self.groups, weight: weight("norm.weight"), bias: weight("norm.bias"), eps: Self.eps,
                              thenSiLU: true)
        let tokens = try text.reshaped([-1, text.shape[text.rank - 1]])
        let film = try linear(try mean(tokens, axis: 0).reshaped([1, -1]), weight: weight("film.weight"), bias: weight("film.bias"))
        let halves = try film.reshaped([2, hidden])
        // gamma broadcast over the positions as a product with a row of ones (no broadcasting op is needed).
        let gamma = try matmul(try halves.slice(0).reshaped([hidden, 1]), Tensor(repeating: 1, shape: [1, height * width]))
        let flat = try h.reshaped([hidden, height * width])
        let modulated = try add(try add(flat, try mul(flat, gamma)).reshaped([1, hidden, height, width]),
                                channelBias: halves.slice(1))
        return try conv2d(modulated, weight: weight("head.weight"), bias: weight("head.bias"))
    }

    /// BCE-with-logits of the logits resized bicubically to `mask` ([1, 1, H, W], 0 or 1).
    public func loss(_ feature: Tensor, text: Tensor, mask: Tensor) throws -> Tensor {
        let logits = try logits(feature, text: text)
        return try bceWithLogits(try resizeBicubic(logits, height: mask.shape[2], width: mask.shape[3]), target: mask)
    }

    /// The loss and its gradient for every parameter, on a tape.
    public func lossAndGradients(_ feature: Tensor, text: Tensor, mask: Tensor) throws -> (loss: Float, gradients: TensorTree) {
        let tape = GradientTape()
        let loss = try tape.record { try self.loss(feature, text: text, mask: mask) }
        return (loss.scalars[0], TensorTree(try tape.gradient(of: loss, withRespectTo: parameters.tree.tensors)))
    }
}
