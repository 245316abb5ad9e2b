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

    private func temporaryPNG(width: Int, height: Int) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("zflow-\(width)x\(height)-\(UUID().uuidString).png")
        try savePNG(rgb: RGBImage(width: width, height: height, pixels: [UInt8](repeating: 128, count: width * height * 3)),
                    to: url)
        return url
    }

    /// Documented behaviour: the reference resize targets an area of 384^2, so small photos grow.
    @Test func anImageSmallerThan64PixelsIsUpscaledToThePipelineSize() async throws {
        let small = try temporaryPNG(width: 40, height: 30)
        defer { try? FileManager.default.removeItem(at: small) }
        #expect(try await failures(["image": small.path]).isEmpty)
    }

    @Test func anImageTooElongatedForTheUNetIsRefusedByPrepareImage() async throws {
        let strip = try temporaryPNG(width: 600, height: 8)
        defer { try? FileManager.default.removeItem(at: strip) }
        let failure = try #require(try await failures(["image": strip.path]).first)
        #expect(failure.nodeName == "prepared")
        #expect(failure.message.contains("at least 64"), "\(failure.message)")
    }

    @Test func aMissingWeightFileListsWhatIsExpected() async throws {
        let failed = try await failures(["sd": "/nonexistent/sd-v1-4.ckpt"])
        let vae = try #require(failed.first { $0.nodeName == "z" })
        #expect(vae.message.contains("no such file or folder: /nonexistent/sd-v1-4.ckpt"), "\(vae.message)")
    }

    @Test func aStableDiffusionFileGivenAsLDZNetIsNamedAsTheWrongModel() async throws {
        let failed = try await failures(["ldznet": root.appendingPathComponent("models/tiny/sd-v1-tiny.safetensors").path])
        let pool = try #require(failed.first { $0.nodeName == "pooled" })
        #expect(pool.message.contains("needs weights that are not stored")
                && pool.message.contains("input_blocks.8.1.attentionpool2D"), "\(pool.message)")
    }

    @Test func anEmptyPromptRuns() async throws {
        #expect(try await failures(["prompt": "", "template": "{}"]).isEmpty)
    }
}
