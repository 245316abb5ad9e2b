import Testing
@testable import ZFlowTensor
import ZFlowTestSupport

/// Every op's gradients against PyTorch autograd on the fixtures of tools/fixtures/grads.py:
/// loss = sum(out * cot) on a tape, gradients of every differentiated input, shapes first, then
/// max |diff| <= 1e-5 x max |ref| per gradient tensor, on every backend.
@Suite struct GradientParityTests {
    static let families = ["products", "conv", "norm", "attention", "activation", "resize", "shape", "loss"]

    @Test(arguments: families) func gradientsMatchTorch(family: String) throws {
        let fixture = try OpsFixture(family, folder: "grads")
        try onEachBackend { backend in
            for name in fixture.caseNames {
                guard let keys = fixture.cases[name]?["inputs"] as? [String] else { throw FixtureError("case \(name): no inputs") }
                let inputs = try Dictionary(uniqueKeysWithValues: keys.map { ($0, try fixture.tensor(name, $0)) })
                let cotangent = try fixture.tensor(name, "cot")
                let tape = GradientTape()
                let loss = try tape.record { sum(try mul(try runOp(fixture, name, inputs), cotangent)) }
                let gradients = try tape.gradient(of: loss, withRespectTo: inputs)
                for key in keys {
                    let expected = try fixture.tensor(name, "grad/\(key)")
                    guard let actual = gradients[key] else {
                        Issue.record("\(family) \(name): no gradient for \(key) (\(backend))")
                        continue
                    }
                    let peak = expected.buffer.reduce(Float(0)) { max($0, abs($1)) }
                    let report = compare(actual, expected, atol: 1e-5 * peak, rtol: 0, name: "d\(key) \(name) (\(backend))")
                    print("GRADIENT | \(family) | \(name) | d\(key) | \(backend) | \(expected.shape) | \(report.maxAbsError) | \(report.relativeToPeak)")
                    #expect(report.passes, "\(report)")
                }
            }
        }
    }

    /// The op a case names, on its inputs (recorded on the current tape).
    private func runOp(_ fixture: OpsFixture, _ name: String, _ t: [String: Tensor]) throws -> Tensor {
        let op = try fixture.string(name, "op")
        func input(_ key: String) throws -> Tensor {
            guard let tensor = t[key] else { throw FixtureError("case \(name): no input \(key)") }
            return tensor
        }
        switch op {
        case "linear": return try linear(input("x"), weight: input("weight"), bias: t["bias"])
        case "matmul":
            return try matmul(input("a"), input("b"), transposeA: fixture.bool(name, "transposeA"),
                              transposeB: fixture.bool(name, "transposeB"))
        case "conv2d":
            return try conv2d(input("x"), weight: input("weight"), bias: t["bias"], stride: fixture.int(name, "stride"),
                              padding: fixture.int(name, "padding"))
        case "convTranspose2d":
            return try convTranspose2d(input("x"), weight: input("weight"), bias: t["bias"], stride: fixture.int(name, "stride"),
                                       padding: fixture.int(name, "padding"))
        case "groupNorm":
            return try groupNorm(input("x"), groups: fixture.int(name, "groups"), weight: input("weight"), bias: input("bias"),
                                 eps: fixture.float(name, "eps"), thenSiLU: fixture.bool(name, "silu"))
        case "layerNorm": return try layerNorm(input("x"), weight: input("weight"), bias: input("bias"), eps: fixture.float(name, "eps"))
        case "attention":
            return try attention(query: input("query"), key: input("key"), value: input("value"),
                                 heads: fixture.int(name, "heads"), causal: fixture.bool(name, "causal"))
        case "softmax": return softmax(try input("x"))
        case "silu": return silu(try input("x"))
        case "gelu": return gelu(try input("x"))
        case "geluTanh": return gelu(try input("x"), approximate: .tanh)
        case "quickGELU": return quickGELU(try input("x"))
        case "sigmoid": return sigmoid(try input("x"))
        case "geglu": return try geglu(input("x"))
        case "upsampleNearest2x": return upsampleNearest2x(try input("x"))
        case "resizeBicubic":
            return try resizeBicubic(input("x"), height: fixture.int(name, "height"), width: fixture.int(name, "width"))
        case "add": return try add(input("a"), input("b"))
        case "sub": return try sub(input("a"), input("b"))
        case "mul": return try mul(input("a"), input("b"))
        case "channelBias": return try add(input("x"), channelBias: input("bias"))
        case "scaled": return scaled(try input("x"), by: try fixture.float(name, "factor"))
        case "concat": return try concat([input("a"), input("b")], axis: fixture.int(name, "axis"))
        case "mean": return try mean(input("x"), axis: fixture.int(name, "axis"))
        case "sum": return sum(try input("x"))
        case "transpose": return transpose(try input("x"))
        case "permute": return try permute(input("x"), integers(fixture, name, "order"))
        case "reshape": return try input("x").reshaped(integers(fixture, name, "shape"))
        case "slice": return try input("x").slice(fixture.int(name, "lower")..<fixture.int(name, "upper"))
        case "bce":
            let weight = fixture.cases[name]?["posWeight"] as? Double
            return try bceWithLogits(input("x"), target: input("target"), positiveWeight: weight.map(Float.init))
        case "mse": return try mse(input("a"), input("b"))
        case "dice": return try diceLoss(input("x"), target: input("target"), smooth: fixture.float(name, "smooth"))
        default: throw FixtureError("case \(name): unknown op \(op)")
        }
    }

    private func integers(_ fixture: OpsFixture, _ name: String, _ parameter: String) throws -> [Int] {
        guard let values = fixture.cases[name]?[parameter] as? [Int] else { throw FixtureError("case \(name): no list \(parameter)") }
        return values
    }
}
