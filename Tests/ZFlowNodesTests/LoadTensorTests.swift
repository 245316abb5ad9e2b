import Foundation
import Testing
import ZFlowGraph
import ZFlowNodes
import ZFlowTensor

/// `LoadTensor(..., as: TYPE)`: a saved tensor fed back into a typed port.
@Suite struct LoadTensorTests {
    private func path(_ relative: String) -> String { repositoryPath(relative) }

    /// Checks and runs `text`, returning the report and the values of `outputs`.
    private func run(_ text: String, outputs names: [String]) async throws -> (RunReport, [String: Tensor]) {
        let (report, values) = try await runGraph(text, outputs: names)
        return (report, values.compactMapValues { $0 as? Tensor })
    }

    /// Saves the tiny VAE's latent of the bundled photo under the key `z`; returns it and its noised copy.
    private func saveLatent(to file: URL) async throws -> (z: Tensor, noised: Tensor) {
        let (report, values) = try await run("""
            photo    = LoadImage(path: "\(path("examples/images/chelsea.png"))")
            prepared = PrepareImage(image: photo, area: 128, multiple: 64)
            z        = VAEEncode(image: prepared, weights: "\(path("models/tiny/sd-v1-tiny.safetensors"))")
            zt       = AddNoise(latent: z, t: 400, seed: 3)
            SaveTensor(value: z, path: "\(file.path)", name: "z")
            """, outputs: ["z", "zt"])
        #expect(report.failures.isEmpty, "\(report.failures)")
        return (try #require(values["z"]), try #require(values["zt"]))
    }

    private func temporaryFile() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("zflow-load-\(UUID().uuidString).safetensors")
    }

    @Test func aSavedLatentLoadedAsLatentFeedsALatentPortWithTheSameNumbers() async throws {
        let file = temporaryFile()
        defer { try? FileManager.default.removeItem(at: file) }
        let saved = try await saveLatent(to: file)
        let (report, values) = try await run("""
            z  = LoadTensor(path: "\(file.path)", name: "z", as: Latent)
            zt = AddNoise(latent: z, t: 400, seed: 3)
            """, outputs: ["z", "zt"])
        #expect(report.failures.isEmpty, "\(report.failures)")
        let loaded = try #require(values["z"]), noised = try #require(values["zt"])
        #expect(loaded.shape == saved.z.shape && loaded.scalars == saved.z.scalars)
        #expect(noised.shape == saved.noised.shape && noised.scalars == saved.noised.scalars)
    }

    @Test func aTensorOfAnotherFormIsRefusedNamingFileKeyShapeAndForm() async throws {
        let file = temporaryFile()
        defer { try? FileManager.default.removeItem(at: file) }
        let saved = try await saveLatent(to: file)
        for (type, form) in [("TextEmbedding", "[S, width] or [1, S, width]"), ("Mask", "[1, 1, H, W]")] {
            let (report, _) = try await run("""
                text = LoadTensor(path: "\(file.path)", name: "z", as: \(type))
                """, outputs: ["text"])
            let failure = try #require(report.failures.first)
            #expect(failure.nodeName == "text")
            #expect(failure.message == "tensor 'z' in \(file.path) has shape \(saved.z.shape), but as: \(type) needs \(form)")
        }
    }
}
