import Foundation
import Testing
@testable import ZFlowTensor

/// `OpTimes` counts each op under its label once, and an op called inside a timed op not at all;
/// a pullback counts under its op's name and "backward".
/// Other suites run ops on other threads meanwhile, so the checks use labels only this suite makes
/// (a 1x5 kernel, an outer label of its own) and compare counts before and after.
@Suite(.serialized) struct OpTimesTests {
    let input = Tensor(shape: [1, 2, 4, 9], scalars: (0..<72).map { Float($0 % 7) - 3 })
    let weight = Tensor(shape: [3, 2, 1, 5], scalars: (0..<30).map { Float($0 % 5) - 2 })

    private func calls(_ label: String) -> Int { OpTimes.shared.snapshot()[label]?.calls ?? 0 }

    @Test func anOpIsCountedUnderItsLabelOnlyWhenTimingIsOn() throws {
        let before = calls("conv 1x5 stride 2")
        _ = try conv2d(input, weight: weight, bias: nil, stride: 2)
        #expect(calls("conv 1x5 stride 2") == before)

        OpTimes.shared.isEnabled = true
        defer { OpTimes.shared.isEnabled = false }
        _ = try conv2d(input, weight: weight, bias: nil, stride: 2)
        _ = try conv2d(input, weight: weight, bias: nil, stride: 2)
        #expect(calls("conv 1x5 stride 2") == before + 2)
        #expect(OpTimes.shared.snapshot()["conv 1x5 stride 2"]!.nanoseconds > 0)
    }

    @Test func anOpCountsTheProcesssCPUTimeMeanwhile() {
        func threadCPUNanoseconds() -> UInt64 {
            var time = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
            return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
        }
        OpTimes.shared.isEnabled = true
        defer { OpTimes.shared.isEnabled = false }
        let before = OpTimes.shared.snapshot()["OpTimesTests spin"]?.cpuNanoseconds ?? 0
        let threadBefore = threadCPUNanoseconds()
        let timing = timeOp("OpTimesTests spin")
        var sum = 0.0
        for index in 0..<3_000_000 { sum += Double(index).squareRoot() }
        timing?.stop()
        let spun = threadCPUNanoseconds() - threadBefore
        // The process's working CPU time holds at least this thread's (it did not poll).
        let counted = OpTimes.shared.snapshot()["OpTimesTests spin"]!.cpuNanoseconds - before
        #expect(sum > 0 && spun > 0 && counted >= spun / 2, "counted \(counted) ns, the thread spun \(spun) ns")
    }

    @Test func anOpInsideATimedOpCountsForTheOuterOneOnly() throws {
        OpTimes.shared.isEnabled = true
        defer { OpTimes.shared.isEnabled = false }
        let innerBefore = calls("conv 1x5"), outerBefore = calls("OpTimesTests outer")
        let outer = timeOp("OpTimesTests outer")
        _ = try conv2d(input, weight: weight, bias: nil)
        outer?.stop()
        #expect(calls("OpTimesTests outer") == outerBefore + 1)
        #expect(calls("conv 1x5") == innerBefore)
        // The depth is back to zero: the next op on this thread is counted again.
        _ = try conv2d(input, weight: weight, bias: nil)
        #expect(calls("conv 1x5") == innerBefore + 1)
    }

    @Test func aPullbackCountsUnderItsOpsNameAndTheOpsInsideItDoNot() throws {
        let x = Tensor(shape: [3], scalars: [1, 2, 3])
        let tape = GradientTape()
        let loss = try tape.record { () throws -> Tensor in
            let output = scaled(x, by: 2)
            GradientTape.note("OpTimesTests op", inputs: [x], output: output, pullback: { [input, weight] gradient, _ in
                _ = try conv2d(input, weight: weight, bias: nil)
                return [scaled(gradient, by: 2)]
            })
            return sum(output)
        }
        OpTimes.shared.isEnabled = true
        defer { OpTimes.shared.isEnabled = false }
        let before = calls("OpTimesTests op backward"), innerBefore = calls("conv 1x5")
        _ = try tape.gradient(of: loss, withRespectTo: ["x": x])
        #expect(calls("OpTimesTests op backward") == before + 1)
        #expect(calls("conv 1x5") == innerBefore)
    }
}
