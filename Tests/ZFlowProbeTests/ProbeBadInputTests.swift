import Foundation
import Testing
import ZFlowBatch
import ZFlowGraph
import ZFlowProbe

/// Bad grids and graphs are refused before any work, with the place in the graph.
@Suite struct ProbeBadInputTests {
    static func refusal(_ workspace: ProbeFixture.Workspace, _ configure: (inout ProbeConfiguration) -> Void) async -> String {
        do {
            try await workspace.probe(workspace.run("bad"), configure)
            return "no error"
        } catch {
            #expect(!FileManager.default.fileExists(atPath: workspace.run("bad").appendingPathComponent("features").path),
                    "work started before the check")
            return "\(error)"
        }
    }

    @Test func tapOutsideTheRangeOfUNetFeaturesPointsAtTheNode() async throws {
        let workspace = try ProbeFixture.Workspace(train: 1, val: 1)
        defer { workspace.remove() }
        let message = await Self.refusal(workspace) { $0.taps = [6, 17] }
        #expect(message.contains("probe.zflow:12:1: error: --taps: tap 17 is outside 1...16"), "\(message)")
        #expect(await Self.refusal(workspace) { $0.taps = [0] }.contains("tap 0 is outside 1...16"))
    }

    @Test func timestepOutOfRangeIsTheGraphDiagnosticOfItsParam() async throws {
        let workspace = try ProbeFixture.Workspace(train: 1, val: 1)
        defer { workspace.remove() }
        let message = await Self.refusal(workspace) { $0.timesteps = [100, 1000] }
        #expect(message.contains("probe.zflow:") && message.contains("parameter 't' = 1000"), "\(message)")
        #expect(message.contains("0...999"), "\(message)")
    }

    @Test func graphsTheProbeCannotDriveAreRefusedWithThePlace() async throws {
        let workspace = try ProbeFixture.Workspace(train: 1, val: 1)
        defer { workspace.remove() }
        let literalT = ProbeFixture.graphText().replacingOccurrences(of: "t: t, weights: sd, taps", with: "t: 400, weights: sd, taps")
        try literalT.write(to: workspace.graphFile, atomically: true, encoding: .utf8)
        let message = await Self.refusal(workspace) { _ in }
        #expect(message.contains("probe.zflow:12:1: error: zflow probe sets t per cell through a param"), "\(message)")

        let literalSeed = ProbeFixture.graphText().replacingOccurrences(of: "seed: seed)", with: "seed: 3)")
        try literalSeed.write(to: workspace.graphFile, atomically: true, encoding: .utf8)
        #expect(await Self.refusal(workspace) { $0.seeds = [0, 1] }.contains("has the literal seed 3; make it a param"))

        #expect(await Self.refusal(workspace) { $0.settings = ["t": .int(300)] }.contains("--set t: zflow probe sets this parameter"))
        #expect(await Self.refusal(workspace) { $0.featuresNode = "zt" }.contains("node 'zt' is a AddNoise, not a UNetFeatures node"))
        #expect(await Self.refusal(workspace) { $0.training.hidden = 12 }.contains("--hidden 12: must be a positive multiple of 8"))
    }
}
