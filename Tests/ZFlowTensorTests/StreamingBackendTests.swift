import CDNNL
import Testing
@testable import ZFlowTensor
import ZFlowTestSupport

/// layerNorm, softmax and the activations oneDNN's eltwise primitive has (GELU erf and tanh, SiLU,
/// QuickGELU, sigmoid), forward and backward (softmax's backward is ZFlow's own on every backend,
/// here from each backend's output), on each backend against ZFlow's own kernels, on
/// shapes with odd widths, one row, width 1 and softmax's 2305 keys. Both sides compute the same
/// float32 formula in other orders and with other polynomials for exp and erf, so the tolerance is
/// that of the torch parity tests: max |a - b| <= 1e-5 x max |own|, per output and per gradient.
/// Under oneDNN the tape's results also equal a direct call of the C shim bit for bit (so the ops
/// ran oneDNN's primitives, which are deterministic), and every op notes the backend it ran on.
/// oneDNN is skipped where it is absent unless ZFLOW_REQUIRE_ONEDNN=1.
@Suite struct StreamingBackendTests {
    static let shapes: [[Int]] = [[1, 7], [3, 5, 33], [2, 77, 13], [1, 1, 320], [5, 1], [3, 2305]]

    @Test(arguments: shapes) func layerNormOnEachBackendMatchesOwn(_ shape: [Int]) throws {
        let width = shape[shape.count - 1], rows = Tensor.elementCount(shape) / width, eps: Float = 1e-5
        let inputs = [
            "x": try add(scaled(randomTensor(shape, seed: 1), by: 3), Tensor(repeating: 0.75, shape: shape)),
            "weight": randomTensor([width], seed: 2), "bias": randomTensor([width], seed: 3),
        ]
        let x = inputs["x"]!, weight = inputs["weight"]!, bias = inputs["bias"]!
        guard let onednn = try expectEachBackendMatchesOwn("layerNorm", inputs, forwardOp: .layerNorm,
                                                           backwardOp: .layerNormBackward, forward: {
            try layerNorm(x, weight: weight, bias: bias, eps: eps)
        }) else { return }

        let output = Tensor(zeros: shape)
        #expect(zflow_dnnl_layer_norm(rows, width, eps, x.pointer, weight.pointer, bias.pointer, output.mutablePointer) == 0)
        #expect(bitwiseEqual(output, onednn.output))
        let mean = Tensor(zeros: [rows]), variance = Tensor(zeros: [rows])
        for row in 0..<rows {
            (mean.mutablePointer[row], variance.mutablePointer[row]) = meanAndVariance(x.pointer + row * width, count: width)
        }
        let dx = Tensor(zeros: shape), dWeight = Tensor(zeros: [width]), dBias = Tensor(zeros: [width])
        #expect(zflow_dnnl_layer_norm_backward(rows, width, eps, x.pointer, mean.pointer, variance.pointer, weight.pointer,
                                               onednn.cotangent.pointer, dx.mutablePointer, dWeight.mutablePointer,
                                               dBias.mutablePointer) == 0)
        #expect(bitwiseEqual(dx, try #require(onednn.gradients["x"])))
        #expect(bitwiseEqual(dWeight, try #require(onednn.gradients["weight"])))
        #expect(bitwiseEqual(dBias, try #require(onednn.gradients["bias"])))
    }

    @Test(arguments: shapes) func softmaxOnEachBackendMatchesOwn(_ shape: [Int]) throws {
        let width = shape[shape.count - 1], rows = Tensor.elementCount(shape) / width
        let x = scaled(randomTensor(shape, seed: 4), by: 8)
        // The gradient is ZFlow's own on every backend (Softmax+Backward.swift), from oneDNN's output.
        guard let onednn = try expectEachBackendMatchesOwn("softmax", ["x": x], forwardOp: .softmax, backwardOp: nil,
                                                           forward: { softmax(x) }) else { return }
        let output = Tensor(zeros: shape)
        #expect(zflow_dnnl_softmax(rows, width, x.pointer, output.mutablePointer) == 0)
        #expect(bitwiseEqual(output, onednn.output))
    }

    /// Rows whose maximum is far from the rest, or beside -1e30 or -inf (masks), as
    /// OpsSelfCheckTests checks ZFlow's own; a row that is all -inf is NaN on both.
    @Test func softmaxOnOneDNNSurvivesLargeMagnitudesAndMasks() throws {
        guard try canTest(.onednn) else { return }
        let x = Tensor(shape: [4, 3], scalars: [1000, 1001, 1002, -1e30, 0, 0, -.infinity, 0, 1,
                                                -.infinity, -.infinity, -.infinity])
        let own = KernelTuner.$scopedBackend.withValue(.own) { softmax(x) }
        let onednn = KernelTuner.$scopedBackend.withValue(.onednn) { softmax(x) }
        let report = compare(onednn.slice(0..<3), own.slice(0..<3), atol: 1e-6, rtol: 0,
                             name: "softmax large magnitudes and masks (onednn)")
        #expect(report.passes, "\(report)")
        #expect(own.scalars[9...].allSatisfy(\.isNaN) && onednn.scalars[9...].allSatisfy(\.isNaN))
    }

    static let activations: [Activation] = [.silu, .sigmoid, .gelu, .geluTanh, .quickGELU]

    @Test(arguments: shapes) func activationsOnEachBackendMatchOwn(_ shape: [Int]) throws {
        let x = scaled(randomTensor(shape, seed: 5), by: 5)
        for kind in Self.activations {
            let function: (Tensor) -> Tensor = switch kind {
            case .silu: silu
            case .sigmoid: sigmoid
            case .gelu: { gelu($0) }
            case .geluTanh: { gelu($0, approximate: .tanh) }
            case .quickGELU: quickGELU
            }
            guard let onednn = try expectEachBackendMatchesOwn(kind.rawValue, ["x": x], forwardOp: .activation,
                                                               backwardOp: .activationBackward, forward: { function(x) })
            else { continue }
            let (algorithm, alpha) = kind.eltwise
            let output = Tensor(zeros: shape), dx = Tensor(zeros: shape)
            #expect(zflow_dnnl_eltwise(algorithm, alpha, x.count, x.pointer, output.mutablePointer) == 0)
            #expect(bitwiseEqual(output, onednn.output), "\(kind)")
            // Sigmoid's gradient is taken from its output, the others' from their input.
            let data = kind == .sigmoid ? output : x
            #expect(zflow_dnnl_eltwise_backward(algorithm, alpha, x.count, data.pointer, onednn.cotangent.pointer,
                                                dx.mutablePointer) == 0)
            #expect(bitwiseEqual(dx, try #require(onednn.gradients["x"])), "\(kind)")
        }
    }

    /// An unknown activation is refused (non-zero), not computed.
    @Test func anUnknownActivationIsRefused() throws {
        guard try canTest(.onednn) else { return }
        let x = randomTensor([4], seed: 6), y = Tensor(zeros: [4])
        #expect(zflow_dnnl_eltwise(zflow_dnnl_activation(rawValue: 99), 1, 4, x.pointer, y.mutablePointer) != 0)
    }

    /// One op's forward output and the gradients of sum(output * cotangent) for each input, on the
    /// current task's backend.
    struct Run {
        let output: Tensor
        let gradients: [String: Tensor]
        let cotangent: Tensor
    }

    /// `forward` recorded on a tape on every backend, compared with ZFlow's own (output and every
    /// gradient), checking that the forward and backward ops (nil: a backward that is ZFlow's own
    /// only) ran on the backend forced for them (oneDNN's primitives when oneDNN is forced, ZFlow's
    /// own kernels otherwise). Returns the oneDNN run, nil where oneDNN is absent.
    private func expectEachBackendMatchesOwn(_ name: String, _ inputs: [String: Tensor], forwardOp: KernelOp,
                                             backwardOp: KernelOp?, forward: () throws -> Tensor) throws -> Run? {
        func run() throws -> Run {
            let tape = GradientTape()
            var output: Tensor?, cotangent: Tensor?
            let loss = try tape.record { () throws -> Tensor in
                let result = try forward()
                let g = randomTensor(result.shape, seed: 7)
                (output, cotangent) = (result, g)
                return sum(try mul(result, g))
            }
            return Run(output: try #require(output), gradients: try tape.gradient(of: loss, withRespectTo: inputs),
                       cotangent: try #require(cotangent))
        }
        let own = try KernelTuner.$scopedBackend.withValue(.own) { try run() }
        var onednn: Run?
        try onEachBackend { backend in
            let decisions = KernelDecisions()
            let result = try KernelTuner.$decisions.withValue(decisions) { try run() }
            let expected = backend == .onednn ? "onednn" : "own"
            #expect(decisions.summary(forwardOp) == expected, "\(name) forced \(backend)")
            if let backwardOp { #expect(decisions.summary(backwardOp) == expected, "\(name) backward forced \(backend)") }
            let shape = own.output.shape
            expectClose(result.output, own.output, "\(name) \(shape) output", backend)
            for key in inputs.keys.sorted() {
                expectClose(try #require(result.gradients[key]), try #require(own.gradients[key]), "\(name) \(shape) d\(key)", backend)
            }
            if backend == .onednn { onednn = result }
        }
        return onednn
    }

    private func expectClose(_ actual: Tensor, _ own: Tensor, _ name: String, _ backend: KernelBackend) {
        let peak = own.scalars.reduce(0) { max($0, abs($1)) }
        let report = compare(actual, own, atol: 1e-5 * peak, rtol: 0, name: "\(name) (\(backend))")
        print("STREAMING | \(name) | \(backend) vs own | \(report.maxAbsError) | \(report.relativeToPeak)")
        #expect(report.passes, "\(report)")
    }
}
