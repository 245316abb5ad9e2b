import Foundation
import Testing
import ZFlowGraph
import ZFlowImage
import ZFlowNodes

/// Bad input to the standard graphs gives a failure that names the node and says what was wrong.
@Suite struct BadInputTests {
    private let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private func failures(_ settings: [String: String]) async throws -> [NodeFailure] {
        let registry = NodeRegistry()
        registerStandardNodes(into: registry)
        let graph = try Checker.check(fileAt: root.appendingPathComponent("graphs/ldznet.zflow").path, registry: registry)
        var all = ["image": root.appendingPathComponent("examples/images/chelsea.png").path,
                   "sd": root.appendingPathComponent("models/tiny/sd-v1-tiny.safetensors").path,
                   "ldznet": root.appendingPathComponent("models/tiny/ldznet-tiny.safetensors").path]
        all.merge(settings) { $1 }
        let report = try await Engine(registry: registry, cache: .disabled)
            .run(graph, parameters: try graph.parameterValues(settings: all), outputs: [try graph.output("logits")],
                 options: .init(runSinks: false))
        return report.failures
    }

    @Test func anImageSmallerThan64PixelsIsRefusedByPrepareImage() async throws {
        let small = FileManager.default.temporaryDirectory.appendingPathComponent("zflow-small-\(UUID().uuidString).png")
        defer { try? FileManager.default.removeItem(at: small) }
        try savePNG(rgb: RGBImage(width: 40, height: 30, pixels: [UInt8](repeating: 128, count: 40 * 30 * 3)), to: small)
        let failure = try #require(try await failures(["image": small.path]).first)
        #expect(failure.nodeName == "prepared")
        #expect(failure.message.contains("at least 64"), "\(failure.message)")
    }

    @Test func aMissingWeightFileListsWhatIsExpected() async throws {
        let failed = try await failures(["sd": "/nonexistent/sd-v1-4.ckpt"])
        let vae = try #require(failed.first { $0.nodeName == "z" })
        #expect(vae.message.contains("/nonexistent/sd-v1-4.ckpt") && vae.message.contains("diffusers folder"),
                "\(vae.message)")
    }

    @Test func aStableDiffusionFileGivenAsLDZNetIsNamedAsTheWrongModel() async throws {
        let failed = try await failures(["ldznet": root.appendingPathComponent("models/tiny/sd-v1-tiny.safetensors").path])
        let pool = try #require(failed.first { $0.nodeName == "pooled" })
        #expect(pool.message.contains("not an LD-ZNet checkpoint"), "\(pool.message)")
    }

    @Test func anEmptyPromptRuns() async throws {
        #expect(try await failures(["prompt": "", "template": "{}"]).isEmpty)
    }
}
