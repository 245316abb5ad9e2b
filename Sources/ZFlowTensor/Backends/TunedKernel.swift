/// Computes an op whose candidates are ZFlow's own kernels and oneDNN (every `KernelOp` but GEMM)
/// on the backend the tuner chooses for `shape` (KernelTuner.backend), timing both when nothing is
/// recorded. `onednn` returns nil when oneDNN cannot run (absent, or refusing the shape); ZFlow's
/// own kernels then compute, so a failing library never fails the op. When this call timed the
/// candidates, `afterTiming` is told the winner, to let go of what the loser kept (weights in its
/// form).
func tunedKernel<Output>(_ op: KernelOp, shape: @autoclosure () -> String, work: Int, tuner: KernelTuner = .shared,
                         own: () -> Output, onednn: () -> Output?,
                         afterTiming: (KernelBackend) -> Void = { _ in }) -> Output {
    func run(_ backend: KernelBackend) -> Output? {
        guard backend == .onednn else { return own() }
        WorkerPool.shared.handOff(work: work)
        return onednn()
    }
    var timed = false
    let backend = tuner.backend(for: op, shape: shape(), work: work) {
        timed = true
        return run($0) != nil
    }
    if timed { afterTiming(backend) }
    return run(backend) ?? own()
}

/// The shape part of a (transposed) convolution's tuning key; its gradients use the forward's key
/// under their own op name, since the forward's operands determine the backward's work.
func convolutionKey(_ x: Tensor, _ weight: Tensor, stride: Int, padding: Int, bias: Bool) -> String {
    "\(x.shape) \(weight.shape) s\(stride) p\(padding)\(bias ? " bias" : "")"
}

/// The tuner's work (multiply-adds, which the tuning threshold and the recorded rates count) of a
/// bandwidth-bound op over `elements` values: layerNorm, softmax, the activations and their
/// gradients. Each value counts as `streamingWorkPerElement` multiply-adds, so that the threshold
/// (KernelTuner.minimumTunedWork) means a time of the same order for them as for products: on AVX2
/// Zen 3, sgemm does about 75 G multiply-adds/s and these ops 0.2-3.5 G values/s, 20 to 375
/// multiply-adds' time per value; 32, at the cheap end, times shapes from 262,144 values up.
func streamingWork(_ elements: Int) -> Int { elements * streamingWorkPerElement }

let streamingWorkPerElement = 32
