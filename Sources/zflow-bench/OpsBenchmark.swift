import CBLAS
import Foundation
import ZFlowTensor

/// `zflow-bench ops [--runs N]`: GFLOP/s of conv2d, matmul and attention on Stable Diffusion shapes,
/// and of the convolution gradients a training step runs, on every candidate backend (ZFlow's own
/// kernels, OpenBLAS, oneDNN) and on the one the kernel tuner chooses. Each round runs every
/// candidate once, then sgemm 4096^3; rates are medians over rounds, and ratios to sgemm medians of
/// the per-round ratios, so that load from other processes affects all sides alike. The
/// bandwidth-bound ops (layerNorm, softmax, activations, forward and backward) are rated in
/// millions of values per second, without sgemm. Rows with both ZFlow's own and oneDNN also give
/// the per-round ratio oneDNN / own: median [lowest-highest]. `--only TEXT` keeps the shapes whose
/// name contains TEXT.
let opsUsage = """
    usage: zflow-bench ops [--runs N] [--only TEXT]
      Times every candidate backend of each op (convolutions and their gradients, products,
      attention paired with cblas_sgemm 4096^3; layerNorm, softmax and activations and their
      gradients in values per second) and the one the tuner chose.
      --runs N     timed rounds after one warm-up (default 3)
      --only TEXT  only the rows whose name contains TEXT
    """

private struct OpsUsageError: BenchmarkUsageError, CustomStringConvertible {
    let problem: String
    var description: String { "\(problem)\n\(opsUsage)" }
}

func runOpsBenchmark(_ arguments: [String]) throws {
    var runs = 3
    var filter: String?
    var rest = arguments[...]
    while let option = rest.popFirst() {
        guard let value = rest.popFirst() else { throw OpsUsageError(problem: "'\(option)' needs a value") }
        switch option {
        case "--runs":
            guard let number = Int(value), number >= 1 else {
                throw OpsUsageError(problem: "--runs \(value): not a whole number of at least 1")
            }
            runs = number
        case "--only": filter = value
        default: throw OpsUsageError(problem: "unknown option '\(option)'")
        }
    }
    func selected(_ name: String) -> Bool { filter.map { name.contains($0) } ?? true }
    let sgemm = SgemmReference(size: 4096)
    emit("CPU: \(MachineKey.current.summary)")
    for backend in KernelBackend.allCases { emit("\(backend.rawValue): \(backend.libraryDescription)") }
    emit("tuning file: \(KernelTuner.shared.file?.path ?? "none"); medians of \(runs) rounds after one warm-up")
    emit("GFLOP/s per candidate (% of sgemm 4096^3 in the same rounds); chosen = what the tuner picked")
    emit("name".padding(toLength: nameWidth, withPad: " ", startingAt: 0)
         + ["own", "openblas", "onednn"].map { $0.padding(toLength: 15, withPad: " ", startingAt: 0) }.joined()
         + "chosen".padding(toLength: 22, withPad: " ", startingAt: 0) + "sgemm".padding(toLength: 8, withPad: " ", startingAt: 0)
         + "onednn/own")

    let convolutions: [(name: String, channels: Int, outChannels: Int, height: Int, width: Int, kernel: Int)] = [
        ("conv 3x3 320->320 @48x48", 320, 320, 48, 48, 3),
        ("conv 3x3 128->128 @384x384", 128, 128, 384, 384, 3),
        ("conv 3x3 1280->1280 @12x12", 1280, 1280, 12, 12, 3),
        ("conv 3x3 1280->1280 @14x8", 1280, 1280, 14, 8, 3),
        ("conv 3x3 2560->1280 @12x12", 2560, 1280, 12, 12, 3),
        ("conv 3x3 1280->1280 @6x6", 1280, 1280, 6, 6, 3),
        ("conv 3x3 640->640 @24x24", 640, 640, 24, 24, 3),
        ("conv 1x1 320->320 @48x48", 320, 320, 48, 48, 1),
        ("conv 1x1 128->256 @192x192", 128, 256, 192, 192, 1),
        ("conv 1x1 1280->1280 @12x12", 1280, 1280, 12, 12, 1),
    ]
    var measurements: [Measurement] = []
    for shape in convolutions {
        let trained = trainedShapes.contains(shape.name)
        guard selected(shape.name) || (trained && ["dx", "dW+db"].contains { selected("\(shape.name) \($0)") }) else { continue }
        let x = benchmarkTensor([1, shape.channels, shape.height, shape.width], seed: 1)
        let weight = benchmarkTensor([shape.outChannels, shape.channels, shape.kernel, shape.kernel], seed: 2)
        let bias = benchmarkTensor([shape.outChannels], seed: 3)
        let flops = 2.0 * Double(shape.outChannels * shape.channels * shape.kernel * shape.kernel * shape.height * shape.width)
        func forward() throws -> Tensor { try conv2d(x, weight: weight, bias: bias, stride: 1, padding: shape.kernel / 2) }
        if selected(shape.name) {
            measurements.append(try measure(shape.name, amount: flops, unit: 1e9, op: .conv2d, runs: runs, reference: sgemm) {
                _ = try forward()
            })
        }
        guard trained else { continue }
        measurements += try gradientRows(shape.name, amount: flops, unit: 1e9, runs: runs, reference: sgemm, selected: selected, [
            ("dx", .conv2dBackwardData, ["x": x]), ("dW+db", .conv2dBackwardWeights, ["weight": weight, "bias": bias]),
        ], forward: forward)
    }
    // A 2x2 stride-2 transposed convolution (the kind LD-ZNet's head upsamples with) at UNet width;
    // its dx is a conv2d.
    do {
        let x = benchmarkTensor([1, 320, 48, 48], seed: 1), weight = benchmarkTensor([320, 320, 2, 2], seed: 2)
        let bias = benchmarkTensor([320], seed: 3)
        measurements += try gradientRows("convT 2x2 s2 320->320 @48x48", amount: 2.0 * Double(320 * 320 * 4 * 48 * 48), unit: 1e9, runs: runs,
                                         reference: sgemm, selected: selected,
                                         [("dW+db", .convTranspose2dBackwardWeights, ["weight": weight, "bias": bias])]) {
            try convTranspose2d(x, weight: weight, bias: bias, stride: 2)
        }
    }
    for (m, n, k) in [(4096, 4096, 4096), (1280, 144, 1280), (4096, 320, 320), (128, 2304, 128)] where selected("matmul \(m)x\(n)x\(k)") {
        let a = benchmarkTensor([m, k], seed: 9), b = benchmarkTensor([k, n], seed: 10)
        measurements.append(try measure("matmul \(m)x\(n)x\(k)", amount: 2.0 * Double(m * n * k), unit: 1e9, op: .gemm, runs: runs,
                                        reference: sgemm) {
            _ = try matmul(a, b)
        })
    }
    // CLIP's MLP products (77 tokens, [out, in] weights: x W^T), each weight used once per run. The
    // "12 weights" rows cycle through twelve layers' weights, 113 MB in all, so that each call
    // reads its weights from memory as a pipeline run does, not from the cache.
    for (inputs, outputs, layers) in [(768, 3072, 1), (3072, 768, 1), (768, 3072, 12)] {
        let name = "linear 77x\(inputs)->\(outputs)" + (layers > 1 ? " x\(layers) weights" : "")
        guard selected(name) else { continue }
        let x = benchmarkTensor([77, inputs], seed: 11)
        let weights = (0..<layers).map { benchmarkTensor([outputs, inputs], seed: 12 + UInt64($0)) }
        measurements.append(try measure(name, amount: 2.0 * Double(77 * inputs * outputs * layers), unit: 1e9, op: .gemm,
                                        runs: runs, reference: sgemm) {
            for weight in weights { _ = try linear(x, weight: weight, bias: nil) }
        })
    }
    for tokens in [4096, 2304] where selected("attention \(tokens) tok") {
        let width = 320, heads = 8
        let q = benchmarkTensor([tokens, width], seed: 4), k = benchmarkTensor([tokens, width], seed: 5)
        let v = benchmarkTensor([tokens, width], seed: 6)
        measurements.append(try measure("attention \(tokens) x \(heads) x \(width / heads)",
                                        amount: 4.0 * Double(tokens * tokens * width), unit: 1e9, op: nil, runs: runs,
                                        reference: sgemm) {
            _ = try attention(query: q, key: k, value: v, heads: heads)
        })
    }
    measurements += try streamingRows(runs: runs, selected: selected)
    guard !measurements.isEmpty else { throw OpsUsageError(problem: "no shape matches --only \(filter ?? "")") }
    let allReference = measurements.flatMap(\.referenceRates).sorted()
    if !allReference.isEmpty {
        emit(String(format: "sgemm 4096^3 (zflow_sgemm), median over the whole run: %.1f GFLOP/s", allReference[allReference.count / 2]))
    }
}

/// layerNorm, softmax and the activations on the shapes LD-ZNet's models give them (SD's UNet at
/// 512x512: 4096, 1024 and 256 tokens of 320, 640 and 1280 channels, 8 heads; CLIP: 77 tokens of
/// 768; LD-ZNet at 384x384: 2304 tokens and a context token), forward and backward (softmax's
/// backward is ZFlow's own only), in millions of values per second.
private func streamingRows(runs: Int, selected: (String) -> Bool) throws -> [Measurement] {
    var measurements: [Measurement] = []
    var announced = false
    func announce() {
        guard !announced else { return }
        emit("layerNorm, softmax, activations: millions of values per second (no sgemm in their rounds)")
        announced = true
    }
    func row(_ name: String, values: Int, op: KernelOp, _ body: () throws -> Void) throws {
        guard selected(name) else { return }
        announce()
        measurements.append(try measure(name, amount: Double(values), unit: 1e6, op: op, runs: runs, reference: nil, body))
    }
    func gradientRow(_ name: String, _ suffix: String, values: Int, op: KernelOp, inputs: [String: Tensor],
                     forward: () throws -> Tensor) throws {
        guard selected("\(name) \(suffix)") else { return }
        announce()
        measurements += try gradientRows(name, amount: Double(values), unit: 1e6, runs: runs, reference: nil,
                                         selected: selected, [(suffix, op, inputs)], forward: forward)
    }
    for (tokens, channels) in [(4096, 320), (1024, 640), (256, 1280), (77, 768)] {
        let x = benchmarkTensor([tokens, channels], seed: 11)
        let weight = benchmarkTensor([channels], seed: 12), bias = benchmarkTensor([channels], seed: 13)
        let name = "layerNorm \(tokens)x\(channels)"
        try row(name, values: x.count, op: .layerNorm) { _ = try layerNorm(x, weight: weight, bias: bias, eps: 1e-5) }
        try gradientRow(name, "dx+dW+db", values: x.count, op: .layerNormBackward,
                        inputs: ["x": x, "weight": weight, "bias": bias]) {
            try layerNorm(x, weight: weight, bias: bias, eps: 1e-5)
        }
    }
    for (rows, keys) in [(8 * 4096, 4096), (8 * 4096, 77), (8 * 2305, 2305)] {
        let name = "softmax \(rows)x\(keys)"
        guard selected(name) else { continue }
        let x = benchmarkTensor([rows, keys], seed: 14)
        try row(name, values: x.count, op: .softmax) { _ = softmax(x) }
    }
    let activations: [(name: String, shape: [Int], function: (Tensor) -> Tensor)] = [
        ("gelu", [4096, 1280], { gelu($0) }),
        ("silu", [1, 320, 64, 64], silu),
    ]
    for activation in activations {
        let x = benchmarkTensor(activation.shape, seed: 15)
        let name = "\(activation.name) \(activation.shape.map(String.init).joined(separator: "x"))"
        try row(name, values: x.count, op: .activation) { _ = activation.function(x) }
        try gradientRow(name, "dx", values: x.count, op: .activationBackward, inputs: ["x": x]) { activation.function(x) }
    }
    return measurements
}

private let nameWidth = 36

/// The convolutions whose gradients get rows: those a training step of LD-ZNet's UNet runs most.
private let trainedShapes: Set = ["conv 3x3 320->320 @48x48", "conv 3x3 1280->1280 @12x12", "conv 1x1 320->320 @48x48"]

/// One row per gradient ("NAME dx", ...): `forward` is recorded once on a tape and each row times
/// the backward pass to the inputs it names alone (the only other work is the loss sum's pullback,
/// a fill of ones), on every candidate of its op.
private func gradientRows(_ name: String, amount: Double, unit: Double, runs: Int, reference: SgemmReference?,
                          selected: (String) -> Bool,
                          _ rows: [(suffix: String, op: KernelOp, inputs: [String: Tensor])],
                          forward: () throws -> Tensor) throws -> [Measurement] {
    let chosen = rows.filter { selected("\(name) \($0.suffix)") }
    guard !chosen.isEmpty else { return [] }
    let tape = GradientTape()
    let loss = try tape.record { sum(try forward()) }
    return try chosen.map { row in
        try measure("\(name) \(row.suffix)", amount: amount, unit: unit, op: row.op, runs: runs, reference: reference) {
            _ = try tape.gradient(of: loss, withRespectTo: row.inputs)
        }
    }
}

/// Raw `cblas_sgemm` on square matrices: the reference rate.
private struct SgemmReference {
    let size: Int
    let a, b, c: Tensor

    init(size: Int) {
        self.size = size
        a = benchmarkTensor([size, size], seed: 7)
        b = benchmarkTensor([size, size], seed: 8)
        c = Tensor(uninitialized: [size, size])
    }

    /// GFLOP/s of one call.
    func rate() -> Double {
        let n = Int32(size)
        let seconds = wallSeconds {
            zflow_sgemm(false, false, n, n, n, 1, a.pointer, n, b.pointer, n, 0, c.mutablePointer, n)
        }
        return 2 * Double(size * size * size) / seconds / 1e9
    }
}

private struct Measurement {
    let referenceRates: [Double]
}

/// Warms up every candidate of `op` (ZFlow's own kernel only when `op` is nil) and the tuner's
/// choice, then runs `runs` rounds of each followed by sgemm (when there is a `reference`); prints
/// one row of medians of `amount` / seconds / `unit` (GFLOP/s for flops and 1e9), and the median
/// and range of the per-round ratio oneDNN / own when both are candidates.
private func measure(_ name: String, amount: Double, unit: Double, op: KernelOp?, runs: Int, reference: SgemmReference?,
                     _ body: () throws -> Void) throws -> Measurement {
    let candidates: [KernelBackend?] = (op?.candidates ?? [.own]).filter(\.isAvailable) + (op == nil ? [] : [nil])
    let decisions = KernelDecisions()
    func timed(_ candidate: KernelBackend?) throws -> Double {
        guard let candidate else { return try KernelTuner.$decisions.withValue(decisions) { try wallSeconds(body) } }
        return try KernelTuner.$scopedBackend.withValue(candidate) { try wallSeconds(body) }
    }
    for candidate in candidates { _ = try timed(candidate) }
    _ = reference?.rate()
    var rates: [[Double]] = candidates.map { _ in [] }, ratios = rates, referenceRates: [Double] = []
    for _ in 0..<runs {
        let seconds = try candidates.map(timed)
        let referenceRate = reference?.rate()
        if let referenceRate { referenceRates.append(referenceRate) }
        for (index, time) in seconds.enumerated() {
            rates[index].append(amount / time / unit)
            if let referenceRate { ratios[index].append(amount / time / unit / referenceRate) }
        }
    }
    var cells: [String: String] = [:]
    for (index, candidate) in candidates.enumerated() {
        let label = candidate.map(\.rawValue) ?? "chosen"
        let suffix = candidate == nil ? (op.flatMap(decisions.summary).map { " \($0)" } ?? "") : ""
        let share = reference == nil ? "" : String(format: " (%.0f%%)", 100 * median(ratios[index]))
        cells[label] = String(format: "%.0f", median(rates[index])) + share + suffix
    }
    var comparison = "-"
    if let own = candidates.firstIndex(of: .own), let onednn = candidates.firstIndex(of: .onednn) {
        let perRound = zip(rates[onednn], rates[own]).map { $0 / $1 }
        comparison = String(format: "%.2f [%.2f-%.2f]", median(perRound), perRound.min() ?? 0, perRound.max() ?? 0)
    }
    emit(name.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
         + ["own", "openblas", "onednn"].map { (cells[$0] ?? "-").padding(toLength: 15, withPad: " ", startingAt: 0) }.joined()
         + (cells["chosen"] ?? "-").padding(toLength: 22, withPad: " ", startingAt: 0)
         + (reference == nil ? "-" : String(format: "%.0f", median(referenceRates))).padding(toLength: 8, withPad: " ", startingAt: 0)
         + comparison)
    // The own kernels' algorithms, as the tuner timed them (in its own rounds, not these), where
    // the chosen runs consulted it (the "own" column runs forced: the untimed rule).
    for key in op?.ownAlgorithmDecision.map(decisions.keys) ?? [] {
        guard let choice = KernelTuner.shared.choices[key] else { continue }
        let rates = choice.gflops.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        emit("  own algorithms, tuner's timing: \(rates) GFLOP/s; \(choice.winner) chosen")
    }
    return Measurement(referenceRates: referenceRates)
}

