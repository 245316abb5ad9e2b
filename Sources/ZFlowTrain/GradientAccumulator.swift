import ZFlowTensor

/// Averages the gradients of `microSteps` micro-batches into one optimizer step, as Lightning's
/// `accumulate_grad_batches` does: each micro-step's gradient is scaled by `Float(1 / microSteps)`
/// (Lightning divides the loss, which scales every gradient by that factor) and added to the sum,
/// the first one standing alone as torch's autograd stores a parameter's first `grad`.
/// A parameter missing from some micro-steps averages over those it appears in times 1/microSteps
/// (its gradient is zero in the others).
public struct GradientAccumulator {
    public let microSteps: Int
    private let scale: Float
    private var sum = TensorTree()
    public private(set) var received = 0

    public init(microSteps: Int) throws {
        try requireSetting("micro-steps", Double(microSteps), microSteps >= 1, "must be >= 1")
        self.microSteps = microSteps
        scale = Float(1 / Double(microSteps))
    }

    /// Adds one micro-step's gradients; a key whose shape changed between micro-steps is an error.
    public mutating func add(_ gradients: TensorTree) throws {
        guard received < microSteps else { throw TrainingError.invalidSetting(
            name: "micro-steps", value: "\(microSteps)", reason: "all micro-steps were received; take() the average first") }
        for key in gradients.keys {
            let gradient = gradients[key]!
            let source = gradient.pointer, scale = self.scale
            guard let existing = sum[key] else {
                let scaled = Tensor(uninitialized: gradient.shape)
                let target = scaled.mutablePointer
                forEachElement(gradient.count) { target[$0] = source[$0] * scale }
                sum[key] = scaled
                continue
            }
            guard existing.shape == gradient.shape else {
                throw TrainingError.shapeMismatch(key: key, context: "micro-step \(received + 1) gradient",
                                                  shape: gradient.shape, expected: existing.shape)
            }
            let target = existing.mutablePointer
            forEachElement(gradient.count) { target[$0] = target[$0] + source[$0] * scale }
        }
        received += 1
    }

    public var isComplete: Bool { received == microSteps }

    /// The averaged gradients once all micro-steps were added; starts the next accumulation.
    public mutating func take() throws -> TensorTree {
        guard isComplete else { throw TrainingError.accumulationIncomplete(received: received, expected: microSteps) }
        defer { sum = TensorTree(); received = 0 }
        return sum
    }
}
