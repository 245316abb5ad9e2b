import Foundation
import Testing
@testable import ZFlowTensor

/// The tuning file: winners are measured once, recorded, reused; a corrupt or foreign file is
/// ignored and rebuilt, never trusted. Uses private tuners on temporary files, never the shared one.
@Suite struct KernelTunerTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("zflow-tuner-\(UUID().uuidString)")
    var file: URL { folder.appendingPathComponent("tuning.json") }
    let bigWork = KernelTuner.minimumTunedWork

    func tuner(_ extra: [String: String] = [:]) -> KernelTuner {
        KernelTuner(environment: ["ZFLOW_TUNING_FILE": file.path].merging(extra) { $1 })
    }

    /// A fake op whose runs record which candidates were timed; `slow` ones sleep.
    final class FakeOp: @unchecked Sendable {
        var runs: [KernelBackend] = []
        let slow: Set<KernelBackend>
        init(slow: Set<KernelBackend>) { self.slow = slow }
        func run(_ backend: KernelBackend) -> Bool {
            runs.append(backend)
            if slow.contains(backend) { usleep(3000) }
            return true
        }
    }

    @Test func measuresOnceRecordsAndReusesTheWinner() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let op = FakeOp(slow: [.own, .onednn])
        #expect(tuner().backend(for: .gemm, shape: "64x64x64 NN", work: bigWork, run: op.run) == .openblas)
        #expect(op.runs.contains(.own) && op.runs.contains(.openblas))
        let recorded = try JSONDecoder().decode(TuningFile.self, from: Data(contentsOf: file))
        #expect(recorded.machine == MachineKey.current)
        #expect(recorded.choices["gemm 64x64x64 NN"]?.winner == "openblas")
        // A new process (a new tuner on the same file) times nothing.
        let later = FakeOp(slow: [])
        #expect(tuner().backend(for: .gemm, shape: "64x64x64 NN", work: bigWork, run: later.run) == .openblas)
        #expect(later.runs.isEmpty)
    }

    /// Two processes sharing the file: the one that records a shape first decides it for both, even
    /// when the other had already timed it (a training run and its resume compute the same bits);
    /// entries of other shapes on disk survive the second one's write.
    @Test func theFirstProcessToRecordAShapeDecidesItForAllOfThem() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = tuner(), second = tuner()
        #expect(first.backend(for: .gemm, shape: "shared", work: bigWork, run: FakeOp(slow: [.openblas, .onednn]).run) == .own)
        _ = first.backend(for: .gemm, shape: "first only", work: bigWork, run: FakeOp(slow: []).run)
        let timedAgain = FakeOp(slow: [.own, .onednn])
        #expect(second.backend(for: .gemm, shape: "shared", work: bigWork, run: timedAgain.run) == .own)
        #expect(!timedAgain.runs.isEmpty, "the second process had not seen the first's choice when it timed the shape")
        _ = second.backend(for: .gemm, shape: "second only", work: bigWork, run: FakeOp(slow: []).run)
        let onDisk = try JSONDecoder().decode(TuningFile.self, from: Data(contentsOf: file))
        #expect(onDisk.choices["gemm shared"]?.winner == "own")
        #expect(Set(onDisk.choices.keys) == ["gemm shared", "gemm first only", "gemm second only"])
    }

    /// Confined work (`zflow train --workers`) stays on its thread: ZFlow's own kernels, nothing
    /// timed or recorded (a time taken on one core would mislead the unconfined), ranges unsplit.
    @Test func confinedWorkRunsOwnKernelsOnItsThreadAndRecordsNothing() {
        defer { try? FileManager.default.removeItem(at: folder) }
        let op = FakeOp(slow: [.own])
        CoreConfinement.$confined.withValue(true) {
            #expect(tuner().backend(for: .gemm, shape: "64x64x64 NN", work: bigWork, run: op.run) == .own)
            var ranges: [Range<Int>] = []
            parallelRanges(1000, costPerItem: 1 << 20) { ranges.append($0) }
            #expect(ranges == [0..<1000])
        }
        #expect(op.runs.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: file.path))
    }

    @Test func smallOpsAndRecordedModeTimeNothing() {
        defer { try? FileManager.default.removeItem(at: folder) }
        let op = FakeOp(slow: [])
        #expect(tuner().backend(for: .conv2d, shape: "small", work: bigWork - 1, run: op.run) == KernelOp.conv2d.fallback)
        #expect(tuner(["ZFLOW_TUNING": "recorded"]).backend(for: .conv2d, shape: "big", work: bigWork, run: op.run)
            == KernelOp.conv2d.fallback)
        #expect(op.runs.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: file.path))
    }

    @Test(arguments: ["{not json", #"{"format": 1, "machine": 3, "choices": {}}"#, "foreign", "oldFormat"])
    func aCorruptOrForeignFileIsIgnoredAndRebuilt(_ kind: String) throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var planted = TuningFile(machine: MachineKey.current)
        planted.choices["gemm 64x64x64 NN"] = .init(winner: "own", gflops: ["own": 1e6])
        switch kind {
        case "foreign": planted.machine.cpu = "Some Other CPU"
        case "oldFormat": planted.format = 0
        default: break
        }
        let contents = kind.hasPrefix("{") ? Data(kind.utf8) : try planted.encoded()
        try contents.write(to: file)
        let fresh = tuner()
        #expect(fresh.choices.isEmpty, "a \(kind) file must not be trusted")
        #expect(fresh.warnings.contains { $0.contains("ignoring tuning file") })
        let op = FakeOp(slow: [.own, .onednn])
        #expect(fresh.backend(for: .gemm, shape: "64x64x64 NN", work: bigWork, run: op.run) == .openblas)
        let rebuilt = try JSONDecoder().decode(TuningFile.self, from: Data(contentsOf: file))
        #expect(rebuilt.machine == MachineKey.current && rebuilt.choices["gemm 64x64x64 NN"]?.winner == "openblas")
    }

    /// A choice timed while other work used much of the machine serves later runs, but `zflow tune`
    /// times it again, once per process; quiet ones and those of older files (unmarked) it keeps.
    @Test func tuneTimesAgainTheChoicesTimedOnABusyMachine() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var planted = TuningFile(machine: MachineKey.current)
        planted.choices["gemm busy"] = .init(winner: "own", gflops: ["own": 1], othersShare: 0.6)
        planted.choices["gemm quiet"] = .init(winner: "own", gflops: ["own": 1], othersShare: 0.1)
        planted.choices["gemm unmarked"] = .init(winner: "own", gflops: ["own": 1])
        try planted.encoded().write(to: file)
        let op = FakeOp(slow: [.own, .onednn])
        let run = tuner()
        for shape in ["busy", "quiet", "unmarked"] {
            #expect(run.backend(for: .gemm, shape: shape, work: bigWork, run: op.run) == .own)
        }
        #expect(op.runs.isEmpty)
        let tune = tuner()
        tune.setRetimesBusyChoices(true)
        for shape in ["quiet", "unmarked"] {
            #expect(tune.backend(for: .gemm, shape: shape, work: bigWork, run: op.run) == .own)
        }
        #expect(op.runs.isEmpty)
        #expect(tune.backend(for: .gemm, shape: "busy", work: bigWork, run: op.run) == .openblas)
        let timed = op.runs.count
        #expect(timed > 0)
        #expect(tune.backend(for: .gemm, shape: "busy", work: bigWork, run: op.run) == .openblas)
        #expect(op.runs.count == timed, "timed again once per process, not per call")
        let rebuilt = try JSONDecoder().decode(TuningFile.self, from: Data(contentsOf: file))
        #expect(rebuilt.choices["gemm busy"]?.winner == "openblas" && rebuilt.choices["gemm busy"]?.othersShare != nil)
        #expect(rebuilt.choices["gemm unmarked"] == planted.choices["gemm unmarked"])
    }

    /// What a loser kept while it was timed (weights in its layout) can be let go: the call that
    /// timed the candidates is told the winner; calls that reuse a recorded winner are not.
    @Test func onlyTheCallThatTimedTheCandidatesHearsTheWinner() throws {
        guard try canTest(.onednn) else { return }
        defer { try? FileManager.default.removeItem(at: folder) }
        let tuner = tuner()
        var heard: [KernelBackend] = []
        for _ in 0..<2 {
            _ = tunedKernel(.conv2d, shape: "winner", work: bigWork, tuner: tuner, own: { usleep(3000); return 0 },
                            onednn: { 1 }, afterTiming: { heard.append($0) })
        }
        #expect(heard == [.onednn])
    }

    /// conv2d's `afterTiming`: when oneDNN wins, the Winograd transform made while the own kernels
    /// were timed is forgotten; other values derived from the same weights stay.
    @Test func theLosersFormOfTheWeightsIsForgotten() {
        let weight = randomTensor([8, 8, 3, 3], seed: 38)
        func transformed(_ key: String) -> WinogradWeights {
            weight.storage.derived(key) { WinogradWeights(weight.pointer, outChannels: 8, channels: 8) }
        }
        let winograd = transformed(WinogradWeights.derivedKeyPrefix + "[8, 8, 3, 3]"), other = transformed("other")
        weight.storage.forgetDerived(prefix: WinogradWeights.derivedKeyPrefix)
        #expect(transformed(WinogradWeights.derivedKeyPrefix + "[8, 8, 3, 3]") !== winograd)
        #expect(transformed("other") === other)
    }

    /// An op whose oneDNN primitive refuses (returns nil) is computed by ZFlow's own kernels even
    /// when oneDNN is forced: convolutions and their gradients never fail on the library.
    @Test func aRefusingOneDNNFallsBackToTheOwnKernels() {
        var ran: [String] = []
        let result = KernelTuner.$scopedBackend.withValue(.onednn) {
            tunedKernel(.conv2dBackwardWeights, shape: "x", work: bigWork, own: { ran.append("own"); return "own" },
                        onednn: { ran.append("onednn"); return nil })
        }
        #expect(result == "own" && ran == ["onednn", "own"])
    }

    /// A fake pair of own algorithms; `slow` sleeps when timed.
    enum FakeAlgorithm: String, TunedCandidate {
        case quick, slow
        var isAvailable: Bool { true }
    }

    /// Own algorithms (conv2d's Winograd or im2col) are chosen as backends are: timed once, recorded
    /// under their decision's name, reused by a new process.
    @Test func ownAlgorithmsAreTimedRecordedAndReused() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        var timed: [FakeAlgorithm] = []
        func run(_ algorithm: FakeAlgorithm) -> Bool {
            timed.append(algorithm)
            if algorithm == .slow { usleep(3000) }
            return true
        }
        let decisions = KernelDecisions()
        let chosen = KernelTuner.$decisions.withValue(decisions) {
            tuner().algorithm(for: "fakeAlgorithm", shape: "s", work: bigWork, among: [.slow, .quick], fallback: .slow,
                              run: run)
        }
        #expect(chosen == .quick && Set(timed) == [.quick, .slow])
        #expect(decisions.summary(of: "fakeAlgorithm") == "quick" && decisions.keys(of: "fakeAlgorithm") == ["fakeAlgorithm s"])
        let recorded = try JSONDecoder().decode(TuningFile.self, from: Data(contentsOf: file))
        #expect(recorded.choices["fakeAlgorithm s"]?.winner == "quick")
        #expect(recorded.choices["fakeAlgorithm s"].map { Set($0.gflops.keys) } == ["quick", "slow"])
        timed = []
        #expect(tuner().algorithm(for: "fakeAlgorithm", shape: "s", work: bigWork, among: [.slow, .quick],
                                  fallback: .slow, run: run) == .quick)
        #expect(timed.isEmpty)
    }

    /// Confined work, small ops and forced backends (their products would run on the forced
    /// backend) take the fallback rule, timing and recording nothing; so does a recorded winner
    /// this build does not know (a file written by another build).
    @Test func ownAlgorithmsFallBackWhereNothingIsTimed() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        var timed: [FakeAlgorithm] = []
        func run(_ algorithm: FakeAlgorithm) -> Bool { timed.append(algorithm); return true }
        let confined = CoreConfinement.$confined.withValue(true) {
            tuner().algorithm(for: "fakeAlgorithm", shape: "s", work: bigWork, among: [.slow, .quick], fallback: .slow,
                              run: run)
        }
        #expect(confined == .slow)
        #expect(tuner(["ZFLOW_BACKEND": "own"]).algorithm(for: "fakeAlgorithm", shape: "s", work: bigWork,
                                                         among: [.slow, .quick], fallback: .slow, run: run) == .slow)
        let scoped = KernelTuner.$scopedBackend.withValue(.onednn) {
            tuner().algorithm(for: "fakeAlgorithm", shape: "s", work: bigWork, among: [.slow, .quick], fallback: .slow,
                              run: run)
        }
        #expect(scoped == .slow)
        #expect(tuner().algorithm(for: "fakeAlgorithm", shape: "s", work: bigWork - 1, among: [.slow, .quick],
                                  fallback: .slow, run: run) == .slow)
        #expect(timed.isEmpty && !FileManager.default.fileExists(atPath: file.path))
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var planted = TuningFile(machine: MachineKey.current)
        planted.choices["fakeAlgorithm s"] = .init(winner: "fft", gflops: ["fft": 1])
        try planted.encoded().write(to: file)
        #expect(tuner(["ZFLOW_TUNING": "recorded"]).algorithm(for: "fakeAlgorithm", shape: "s", work: bigWork,
                                                             among: [.slow, .quick], fallback: .slow, run: run) == .slow)
        #expect(timed.isEmpty)
    }

    /// conv2d's own kernels time both algorithms on a 3x3 stride-1 shape large enough to tune,
    /// record the winner with both rates, note the decision for reports, and run the winner.
    @Test func conv2dChoosesItsOwnAlgorithmByTiming() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let x = randomTensor([1, 64, 24, 24], seed: 40), weight = randomTensor([64, 64, 3, 3], seed: 41)
        let decisions = KernelDecisions()
        let result = try KernelTuner.$decisions.withValue(decisions) {
            try conv2d(x, weight: weight, bias: nil, stride: 1, padding: 1, algorithm: nil, bandFloats: nil, tuner: tuner())
        }
        let key = "conv2dAlgorithm [1, 64, 24, 24] [64, 64, 3, 3] s1 p1"
        #expect(decisions.keys(of: ConvAlgorithm.decision) == [key])
        let recorded = try JSONDecoder().decode(TuningFile.self, from: Data(contentsOf: file))
        let choice = try #require(recorded.choices[key])
        #expect(Set(choice.gflops.keys) == ["winograd", "im2col"])
        let winner = try #require(ConvAlgorithm(rawValue: choice.winner))
        #expect(decisions.summary(of: ConvAlgorithm.decision) == choice.winner)
        let direct = try conv2d(x, weight: weight, bias: nil, stride: 1, padding: 1, algorithm: winner, bandFloats: nil)
        let ranWinner = result.scalars == direct.scalars
        #expect(ranWinner, "conv2d ran another algorithm than the recorded \(winner)")
    }

    /// The recorded algorithm is the one that runs, against the untimed rule (Winograd at 24 x 24):
    /// their sums round differently, so the bits tell which ran.
    @Test(arguments: [ConvAlgorithm.im2col, .winograd])
    func conv2dRunsTheRecordedAlgorithm(_ recorded: ConvAlgorithm) throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let x = randomTensor([1, 64, 24, 24], seed: 40), weight = randomTensor([64, 64, 3, 3], seed: 41)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var planted = TuningFile(machine: MachineKey.current)
        planted.choices["conv2dAlgorithm [1, 64, 24, 24] [64, 64, 3, 3] s1 p1"] = .init(winner: recorded.rawValue, gflops: [:])
        try planted.encoded().write(to: file)
        let tuned = try conv2d(x, weight: weight, bias: nil, stride: 1, padding: 1, algorithm: nil, bandFloats: nil,
                               tuner: tuner(["ZFLOW_TUNING": "recorded"]))
        func forced(_ algorithm: ConvAlgorithm) throws -> [Float] {
            try conv2d(x, weight: weight, bias: nil, stride: 1, padding: 1, algorithm: algorithm, bandFloats: nil).scalars
        }
        let (im2col, winograd) = (try forced(.im2col), try forced(.winograd))
        #expect(im2col != winograd, "the two algorithms must differ for this test to tell them apart")
        let ranRecorded = tuned.scalars == (recorded == .im2col ? im2col : winograd)
        #expect(ranRecorded, "conv2d ran another algorithm than the recorded \(recorded)")
    }

    /// Below 16 x 16 outputs Winograd's kept transform costs more memory than it saves time:
    /// im2col runs, untimed, whatever a file records.
    @Test func smallOutputsRunIm2colUntimed() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let x = randomTensor([1, 128, 12, 12], seed: 42), weight = randomTensor([128, 128, 3, 3], seed: 43)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var planted = TuningFile(machine: MachineKey.current)
        planted.choices["conv2dAlgorithm [1, 128, 12, 12] [128, 128, 3, 3] s1 p1"] = .init(winner: "winograd", gflops: [:])
        try planted.encoded().write(to: file)
        let decisions = KernelDecisions()
        let tuned = try KernelTuner.$decisions.withValue(decisions) {
            try conv2d(x, weight: weight, bias: nil, stride: 1, padding: 1, algorithm: nil, bandFloats: nil, tuner: tuner())
        }
        #expect(decisions.summary(of: ConvAlgorithm.decision) == nil)
        let im2col = try conv2d(x, weight: weight, bias: nil, stride: 1, padding: 1, algorithm: .im2col, bandFloats: nil)
        let ranIm2col = tuned.scalars == im2col.scalars
        #expect(ranIm2col, "12 x 12 outputs ran Winograd")
    }

    @Test func forcedBackendsAndBadNamesAreReported() {
        let forced = tuner(["ZFLOW_BACKEND": "openblas"])
        #expect(forced.backend(for: .gemm, shape: "x", work: bigWork) { _ in true } == .openblas)
        // OpenBLAS has no convolution: forced OpenBLAS runs ZFlow's algorithms on its products,
        // forward and backward.
        for op in KernelOp.allCases where op != .gemm {
            #expect(forced.backend(for: op, shape: "x", work: bigWork) { _ in true } == .own, "\(op)")
        }
        #expect(forced.implementationIdentity == "kernels: openblas (forced)")
        let wrong = tuner(["ZFLOW_BACKEND": "cuda"])
        #expect(wrong.forced == nil)
        #expect(wrong.warnings == ["ZFLOW_BACKEND=cuda is not one of own, openblas, onednn; ignored"])
    }
}
