import Testing
@testable import ZFlowTensor
import ZFlowTestSupport

/// Every op against PyTorch on the fixtures of tools/fixtures/ops.py.
@Suite struct OpsParityTests {
    @Test func matmulMatchesTorch() throws {
        let fixture = try OpsFixture("matmul")
        try onEachBackend { backend in for name in fixture.caseNames {
            let out = try matmul(try fixture.tensor(name, "a"), try fixture.tensor(name, "b"),
                                 transposeA: try fixture.bool(name, "transposeA"), transposeB: try fixture.bool(name, "transposeB"))
            let report = try fixture.check(out, name, op: "matmul (\(backend))", relative: 1e-5)
            #expect(report.passes, "\(report)")
        } }
    }

    @Test func linearMatchesTorch() throws {
        let fixture = try OpsFixture("linear")
        try onEachBackend { backend in for name in fixture.caseNames {
            let out = try linear(try fixture.tensor(name, "x"), weight: try fixture.tensor(name, "weight"),
                                 bias: try fixture.optionalTensor(name, "bias"))
            let report = try fixture.check(out, name, op: "linear (\(backend))", relative: 1e-5)
            #expect(report.passes, "\(report)")
        } }
    }

    @Test func conv2dMatchesTorch() throws {
        let fixture = try OpsFixture("conv2d")
        try onEachBackend { backend in for name in fixture.caseNames {
            let x = try fixture.tensor(name, "x"), weight = try fixture.tensor(name, "weight")
            let bias = try fixture.optionalTensor(name, "bias")
            let stride = try fixture.int(name, "stride"), padding = try fixture.int(name, "padding")
            let report = try fixture.check(try conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding),
                                           name, op: "conv2d (\(backend))", relative: 1e-5)
            #expect(report.passes, "\(report)")
            // Each algorithm with temporaries of about one row: many bands.
            let banded = try conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding,
                                    algorithm: .im2col, bandFloats: weight.count / weight.shape[0] * x.shape[3])
            let bandedReport = try fixture.check(banded, name, op: "conv2d im2col (1-row bands)", relative: 1e-5)
            #expect(bandedReport.passes, "\(bandedReport)")
            if weight.shape[2] == 3, weight.shape[3] == 3, stride == 1 {
                let winograd = try conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding,
                                          algorithm: .winograd, bandFloats: 16 * (x.shape[1] + weight.shape[0]) * x.shape[3])
                let winogradReport = try fixture.check(winograd, name, op: "conv2d Winograd (1-tile-row bands)", relative: 1e-5)
                #expect(winogradReport.passes, "\(winogradReport)")
            }
        } }
    }

    @Test func convTranspose2dMatchesTorch() throws {
        let fixture = try OpsFixture("convTranspose2d")
        try onEachBackend { backend in for name in fixture.caseNames {
            let x = try fixture.tensor(name, "x"), weight = try fixture.tensor(name, "weight")
            let bias = try fixture.optionalTensor(name, "bias")
            let stride = try fixture.int(name, "stride"), padding = try fixture.int(name, "padding")
            let report = try fixture.check(try convTranspose2d(x, weight: weight, bias: bias, stride: stride, padding: padding),
                                           name, op: "convTranspose2d (\(backend))", relative: 1e-5)
            #expect(report.passes, "\(report)")
            let banded = try convTranspose2d(x, weight: weight, bias: bias, stride: stride, padding: padding,
                                             bufferFloats: weight.count / weight.shape[0] * x.shape[3])
            let bandedReport = try fixture.check(banded, name, op: "convTranspose2d (1-row bands)", relative: 1e-5)
            #expect(bandedReport.passes, "\(bandedReport)")
        } }
    }

    @Test func normsMatchTorch() throws {
        let fixture = try OpsFixture("norm")
        try onEachBackend { backend in for name in fixture.caseNames {
            let x = try fixture.tensor(name, "x"), weight = try fixture.tensor(name, "weight"), bias = try fixture.tensor(name, "bias")
            let eps = try fixture.float(name, "eps")
            let out = try fixture.string(name, "kind") == "group"
                ? try groupNorm(x, groups: try fixture.int(name, "groups"), weight: weight, bias: bias, eps: eps)
                : try layerNorm(x, weight: weight, bias: bias, eps: eps)
            let report = try fixture.check(out, name, op: "\(try fixture.string(name, "kind"))Norm (\(backend))", relative: 1e-5)
            #expect(report.passes, "\(report)")
        } }
    }

    @Test func softmaxMatchesTorch() throws {
        let fixture = try OpsFixture("softmax")
        try onEachBackend { backend in for name in fixture.caseNames {
            let report = try fixture.check(softmax(try fixture.tensor(name, "x")), name, op: "softmax (\(backend))", relative: 1e-5)
            #expect(report.passes, "\(report)")
        } }
    }

    @Test func attentionMatchesTorch() throws {
        let fixture = try OpsFixture("attention")
        for name in fixture.caseNames {
            let q = try fixture.tensor(name, "query"), k = try fixture.tensor(name, "key"), v = try fixture.tensor(name, "value")
            let heads = try fixture.int(name, "heads"), causal = try fixture.bool(name, "causal")
            let report = try fixture.check(try attention(query: q, key: k, value: v, heads: heads, causal: causal),
                                           name, op: "attention", relative: 1e-5)
            #expect(report.passes, "\(report)")
            // Blocks of 12 queries (the smallest; most cases have more): chunk boundaries must not show.
            let chunked = try attention(query: q, key: k, value: v, heads: heads, causal: causal, queryBlock: 12)
            let chunkedReport = try fixture.check(chunked, name, op: "attention (12-query blocks)", relative: 1e-5)
            #expect(chunkedReport.passes, "\(chunkedReport)")
        }
    }

    @Test func activationsMatchTorch() throws {
        let fixture = try OpsFixture("activation")
        let ops: [String: (Tensor) throws -> Tensor] = [
            "silu": silu, "gelu": { gelu($0) }, "geluTanh": { gelu($0, approximate: .tanh) },
            "quickGELU": quickGELU, "geglu": geglu,
        ]
        #expect(Set(fixture.caseNames) == Set(ops.keys))
        try onEachBackend { backend in for name in fixture.caseNames {
            guard let op = ops[name] else { continue }
            let report = try fixture.check(try op(try fixture.tensor(name, "x")), name, op: "\(name) (\(backend))", relative: 1e-5)
            #expect(report.passes, "\(report)")
        } }
    }

    @Test func resizeMatchesTorch() throws {
        let fixture = try OpsFixture("resize")
        for name in fixture.caseNames {
            let x = try fixture.tensor(name, "x")
            let bicubic = try fixture.string(name, "mode") == "bicubic"
            let out = bicubic
                ? try resizeBicubic(x, height: try fixture.int(name, "height"), width: try fixture.int(name, "width"))
                : upsampleNearest2x(x)
            let report = try fixture.check(out, name, op: bicubic ? "resizeBicubic" : "upsampleNearest2x", relative: 1e-5)
            #expect(report.passes, "\(report)")
        }
    }

    @Test func shapeOpsMatchTorch() throws {
        let fixture = try OpsFixture("shape")
        for name in fixture.caseNames {
            let op = try fixture.string(name, "op")
            let inputs = try (0..<3).compactMap { try fixture.optionalTensor(name, "t\($0)") }
            let out: Tensor
            switch op {
            case "concat": out = try concat(inputs, axis: try fixture.int(name, "axis"))
            case "mean": out = try mean(inputs[0], axis: try fixture.int(name, "axis"))
            case "permute":
                guard let order = fixture.cases[name]?["order"] as? [Int] else { throw FixtureError("case \(name): no order") }
                out = try permute(inputs[0], order)
            default: throw FixtureError("case \(name): unknown op \(op)")
            }
            // Moves are exact; a mean of a handful of values is within a few ulps.
            let report = try fixture.check(out, name, op: op, relative: op == "mean" ? 1e-6 : 0)
            #expect(report.passes, "\(report)")
        }
    }
}
