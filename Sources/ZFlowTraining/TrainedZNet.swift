import Foundation
import ZFlowBatch
import ZFlowIO
import ZFlowModels
import ZFlowTensor
import ZFlowTrain

/// ZNet (with its attention pools) built on parameters being trained: every
/// `model.diffusion_model.*` tensor of the weights file (with the fusion parameters it lacks, e.g.
/// a plugin's, from the strategy's initial values), starting where `--init` says, those matching a
/// `--train` pattern trainable; and, when a pattern reaches it, the text encoder of the
/// CLIPTextEncode node that makes ZNet's text (`cond_stage_model.transformer.text_model.*`, from
/// the node's weights file), run inside the step on the prompt's tokens. The models read the
/// trained tensors themselves, so each optimizer step is seen by the next forward.
final class TrainedZNet {
    struct Inputs {
        var latent: Tensor
        var text: Text
        /// Raw SD taps by tap number (empty for fusion "none").
        var taps: [Int: Tensor]

        init(latent: Tensor, text: Tensor, taps: [Int: Tensor]) {
            self.init(latent: latent, text: .encoded(text), taps: taps)
        }

        init(latent: Tensor, text: Text, taps: [Int: Tensor]) {
            self.latent = latent
            self.text = text
            self.taps = taps
        }
    }

    /// ZNet's text: the frozen encoder's output, or the token ids of each sample's prompt for the
    /// trained encoder.
    enum Text {
        /// [77, D], or [B, 77, D] for a batch.
        case encoded(Tensor)
        /// One prompt's ids per sample.
        case tokens([[Int]])

        /// What a message says of it: the encoding's shape, or "token ids".
        var description: String {
            switch self {
            case let .encoded(text): "\(text.shape)"
            case .tokens: "token ids"
            }
        }
    }

    /// One sample of a step: ZNet's frozen inputs, its (possibly cropped) mask, and where it is
    /// (for messages).
    struct Example {
        var inputs: Inputs
        var truth: TargetMask
        var place: String
    }

    static let trainedPrefix = "model.diffusion_model."

    let parameters: TrainableParameters
    /// The models computing with `parameters`.
    let forward: TrainedForward
    /// Whether the tape recomputes each ResBlock and spatial transformer in backward instead of
    /// keeping its activations (same gradients, bit for bit; less memory, one more forward).
    let recomputesBlocks: Bool
    /// Shares of a step's samples computed at once, each on one core (`zflow train --workers`).
    var workers = 1
    private let config: UNetConfig
    private let fusion: String
    /// The text encoder's config when it trains.
    let textConfig: CLIPTextConfig?

    /// `stableDiffusion`: the SD weights file `--init sd` starts from. `seed` (`--seed`) seeds
    /// `--init random` and the fusion parameters the weights file lacks. `text`: the text encoder
    /// when it trains (its tensors join the parameters, frozen unless a pattern matches them).
    /// `upsamplingHeadBias`: start the head as `ZNet.upsamplingHead` with this last bias
    /// (`--head-init upsampler`).
    convenience init(weights path: String, fusion: String, initialisation: TrainingConfiguration.Initialisation, seed: Int,
                     stableDiffusion: String?, train patterns: [String], text: TrainedTextSource? = nil,
                     recomputingBlocks: Bool = false, upsamplingHeadBias: Float? = nil) throws {
        let file: ZNetStart.Filled, config: UNetConfig
        do {
            file = try ZNetStart.filled(URL(fileURLWithPath: path), fusion: fusion, seed: seed)
            // The architecture (and pool grid sizes) as inference reads them, sidecar included.
            config = try file.checkpoint.loadZNet(fusion: fusion).znet.unet.config
        } catch {
            throw BatchError("ZNet weights \(path): \(error)")
        }
        var start = try ZNetStart.tree(initialisation, file: file, config: config, fusion: fusion, seed: seed,
                                       stableDiffusion: stableDiffusion)
        if let upsamplingHeadBias {
            for (key, tensor) in ZNet.upsamplingHead(logitBias: upsamplingHeadBias) {
                guard let stored = start[Self.trainedPrefix + key], stored.shape == tensor.shape else {
                    throw BatchError("--head-init upsampler: ZNet weights \(path) have no head tensor '\(Self.trainedPrefix + key)' "
                        + "of shape \(tensor.shape)")
                }
                start[Self.trainedPrefix + key] = tensor
            }
        }
        try self.init(start: start, config: config, fusion: fusion, train: patterns, text: text,
                      recomputingBlocks: recomputingBlocks, origin: path)
    }

    /// ZNet with `config` and `fusion` on the parameters `start` (every `model.diffusion_model.*`
    /// tensor), and `text`'s encoder when it trains, those matching a `--train` pattern trainable;
    /// `origin` names where ZNet's keys come from.
    init(start: TensorTree, config: UNetConfig, fusion: String, train patterns: [String], text: TrainedTextSource? = nil,
         recomputingBlocks: Bool, origin: String) throws {
        recomputesBlocks = recomputingBlocks
        self.config = config
        self.fusion = fusion
        textConfig = text?.encoder.config
        var start = start
        for (key, tensor) in text?.encoder.parameters ?? [:] { start[key] = tensor }
        do {
            parameters = try TrainableParameters(start, frozen: ["**"])
            try parameters.unfreeze(patterns)
        } catch {
            let keys = text.map { "ZNet's \(Self.trainedPrefix)* of \(origin) and the text encoder's \(CLIPWeightLayout.compVis.storedPrefix)* of \($0.weights)" }
                ?? "ZNet's: \(Self.trainedPrefix)* of \(origin)"
            throw BatchError("--train: \(error) (the keys are \(keys))")
        }
        forward = try Self.forward(over: parameters.tree, config: config, fusion: fusion, textConfig: textConfig, origin: origin)
    }

    /// The models computing with the tensors of `tree` (the parameters, or their EMA).
    func forward(over tree: TensorTree) throws -> TrainedForward {
        try Self.forward(over: tree, config: config, fusion: fusion, textConfig: textConfig, origin: "the EMA weights")
    }

    private static func forward(over tree: TensorTree, config: UNetConfig, fusion: String, textConfig: CLIPTextConfig?,
                                origin: String) throws -> TrainedForward {
        let znet: ZNet, text: CLIPTextEncoder?
        do {
            znet = try LDZNetCheckpoint(source: tree, copy: .training).loadZNet(config: config, fusion: fusion).znet
        } catch {
            throw BatchError("ZNet on \(origin): \(error)")
        }
        do {
            text = try textConfig.map { try CLIPTextEncoder(config: $0, weights: tree) }
        } catch {
            throw BatchError("the text encoder on \(origin): \(error)")
        }
        return TrainedForward(znet: znet, text: text)
    }

    /// `loss` (BCE-with-logits by default: the mean over the batch, torch's default reduction) of
    /// ZNet's logits for the examples against each example's mask resized to the logits (with
    /// nearest by default), and its gradient for every trainable parameter the forward used. The examples run
    /// as one batch, or with `workers` > 1 as that many shares (consecutive, sizes differing by at
    /// most one), each on its own core (`CoreConfinement`); the shares' means are then weighted by
    /// their sizes and added in order. Every sample has the mask's pixel count, so that is the
    /// batch's mean, rounded differently.
    func lossAndGradients(_ batch: [Example], loss: SegmentationLoss = SegmentationLoss()) throws -> (loss: Float, gradients: TensorTree) {
        let shares = Self.shares(of: batch.count, workers: workers)
        guard shares.count > 1 else { return try batchLossAndGradients(batch, loss: loss) }
        // The shares only read the model (each records on its own tape), so they may share it.
        let results = ConcurrentShares(count: shares.count) { index in
            try CoreConfinement.$confined.withValue(true) {
                try self.batchLossAndGradients(Array(batch[shares[index]]), loss: loss)
            }
        }
        var total: Float = 0, gradients: [String: Tensor] = [:]
        for (index, share) in shares.enumerated() {
            let (shareLoss, shareGradients) = try results.get(index)
            let weight = Float(share.count) / Float(batch.count)
            total += weight * shareLoss
            for (key, gradient) in shareGradients.tensors {
                let weighted = scaled(gradient, by: weight)
                gradients[key] = try gradients[key].map { try add($0, weighted) } ?? weighted
            }
        }
        return (total, TensorTree(gradients))
    }

    /// `count` samples split into at most `workers` consecutive shares whose sizes differ by at most one.
    static func shares(of count: Int, workers: Int) -> [Range<Int>] {
        let parts = max(1, min(workers, count))
        return (0..<parts).map { part in count * part / parts..<count * (part + 1) / parts }
    }

    /// `lossAndGradients` of the examples run as one batch.
    private func batchLossAndGradients(_ batch: [Example], loss: SegmentationLoss) throws -> (loss: Float, gradients: TensorTree) {
        let inputs = try Self.stacked(batch)
        let tape = GradientTape(recomputingBlocks: recomputesBlocks)
        let value = try tape.record {
            let logits = try forward.logits(inputs)
            let targets = batch.map { $0.truth.target(height: logits.shape[2], width: logits.shape[3], resize: loss.maskResize) }
            return try loss(logits, target: Self.joined(targets))
        }
        let trainable = parameters.tree.tensors.filter { parameters.isTrainable($0.key) }
        return (value.buffer[0], TensorTree(try tape.gradient(of: value, withRespectTo: trainable)))
    }

    /// One optimizer step of `zflow train` on `batch` (named `place` in messages): the loss and
    /// its gradients, their total norm (clipped first with `clipGradient`), the optimizer's update
    /// of the trainable parameters. A non-finite loss or gradient fails the step before anything
    /// is updated.
    func step(_ batch: [Example], place: String, optimizer: inout some Optimizer,
              hyperparameters: TrainingHyperparameters) throws -> (loss: Float, gradientNorm: Float) {
        let (loss, gradients) = try lossAndGradients(batch, loss: hyperparameters.loss)
        guard loss.isFinite else { throw BatchError("\(place): the loss is \(loss)", isNodeFailure: true) }
        let norm: Float, applied: TensorTree
        do {
            if let maxNorm = hyperparameters.clipGradient {
                (applied, norm) = try clipGradientNorm(gradients, maxNorm: maxNorm)
            } else {
                (applied, norm) = (gradients, try gradientNorm(gradients))
            }
        } catch {
            throw BatchError("\(place): \(error)", isNodeFailure: true)
        }
        try optimizer.step(parameters, gradients: applied)
        return (loss, norm)
    }

    /// The examples' inputs as one batch: latents and taps [1, ...] joined to [B, ...], texts
    /// [77, D] to [B, 77, D] (token ids listed). One example's are used as they are (no copy).
    /// A sample whose latent, tap or text differs in shape or kind from the first's is refused by name.
    static func stacked(_ batch: [Example]) throws -> Inputs {
        guard let first = batch.first else { throw BatchError("a training step needs at least one sample") }
        guard batch.count > 1 else { return first.inputs }
        func refusal(_ example: Example, _ name: String, its: String?, firsts: String?) -> BatchError {
            BatchError("\(example.place): its \(name) is \(its ?? "missing"), while \(first.place) has \(firsts ?? "none"); "
                + "the samples of one step must be of one size (--batch \(batch.count))")
        }
        /// Each example's `name`, all of the first example's shape; a refusal says what each sample
        /// has with `described`, by default the tensor's shape.
        func sameShapes(_ name: String, described: ((Inputs) -> String)? = nil,
                        _ tensor: (Inputs) -> Tensor?) throws -> [Tensor] {
            func has(_ inputs: Inputs) -> String? { described?(inputs) ?? tensor(inputs).map { "\($0.shape)" } }
            let shape = tensor(first.inputs)?.shape
            return try batch.map { example in
                guard let value = tensor(example.inputs), value.shape == shape else {
                    throw refusal(example, name, its: has(example.inputs), firsts: has(first.inputs))
                }
                return value
            }
        }
        let latent = try joined(sameShapes("latent", { $0.latent }))
        var taps: [Int: Tensor] = [:]
        for tap in first.inputs.taps.keys.sorted() { taps[tap] = try joined(sameShapes("SD tap \(tap)", { $0.taps[tap] })) }
        let text: Text
        switch first.inputs.text {
        case .tokens:
            text = .tokens(try batch.flatMap { example -> [[Int]] in
                guard case let .tokens(ids) = example.inputs.text else {
                    throw refusal(example, "text", its: example.inputs.text.description, firsts: first.inputs.text.description)
                }
                return ids
            })
        case .encoded:
            let encoded = try sameShapes("text", described: { $0.text.description }) {
                if case let .encoded(text) = $0.text { text } else { nil }
            }
            text = .encoded(try joined(encoded.map { try $0.reshaped([1] + $0.shape) }))
        }
        return Inputs(latent: latent, text: text, taps: taps)
    }

    /// [1, ...] tensors joined along dimension 0; one tensor as it is.
    static func joined(_ tensors: [Tensor]) throws -> Tensor {
        tensors.count == 1 ? tensors[0] : try concat(tensors, axis: 0)
    }
}

/// The shares of a step, computed at once (one thread each) when made; `get` gives each one's
/// loss and gradients, or its error.
private final class ConcurrentShares: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Result<(loss: Float, gradients: TensorTree), Error>?]

    init(count: Int, _ compute: (Int) throws -> (loss: Float, gradients: TensorTree)) {
        results = Array(repeating: nil, count: count)
        withoutActuallyEscaping(compute) { compute in
            let box = UncheckedCompute(compute: compute)
            DispatchQueue.concurrentPerform(iterations: count) { index in
                let result = Result { try box.compute(index) }
                lock.withLock { results[index] = result }
            }
        }
    }

    func get(_ index: Int) throws -> (loss: Float, gradients: TensorTree) {
        guard let result = lock.withLock({ results[index] }) else { throw BatchError("share \(index) of the step did not run") }
        return try result.get()
    }
}

/// A share's computation, handed to the threads that run the shares.
private struct UncheckedCompute: @unchecked Sendable {
    let compute: (Int) throws -> (loss: Float, gradients: TensorTree)
}
