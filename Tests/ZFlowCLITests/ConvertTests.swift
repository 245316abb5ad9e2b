import Foundation
import Testing
import ZFlowIO

@Suite struct ConvertTests {
    @Test func aLightningCheckpointBecomesTheSameTensorsAsSafetensors() throws {
        let checkpoint = CLI.packageRoot.appendingPathComponent("models/tiny/ldznet-tiny.ckpt")
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("zflow-convert-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: output) }
        let result = try CLI.run(["convert", checkpoint.path, output.path])
        #expect(result.status == 0, "\(result.stderr)")

        // The same state_dict, exported by the reference library (tools/make_tiny_models.py).
        let expected = try SafeTensorsFile(contentsOf: CLI.packageRoot.appendingPathComponent("models/tiny/ldznet-tiny.safetensors"))
        let converted = try SafeTensorsFile(contentsOf: output)
        #expect(converted.keys == expected.keys)
        for key in expected.keys {
            #expect(try converted.tensor(key).scalars == expected.tensor(key).scalars, "\(key)")
        }
    }

    @Test func anUnreadableInputExitsWith1AndSaysWhy() throws {
        let notAModel = CLI.packageRoot.appendingPathComponent("README.md")
        let result = try CLI.run(["convert", notAModel.path, "/tmp/never-written.safetensors"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("unrecognized tensor file"))
    }

    /// `--only` keeps the keys its globs match (the EMA copy out of a training checkpoint), and
    /// a glob that matches nothing is a usage error naming it.
    @Test func onlyKeepsTheMatchingKeys() throws {
        let checkpoint = CLI.packageRoot.appendingPathComponent("models/tiny/ldznet-tiny.safetensors")
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("zflow-convert-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: output) }
        let result = try CLI.run(["convert", checkpoint.path, output.path, "--only", "model_ema.**"])
        #expect(result.status == 0, "\(result.stderr)")
        let original = try SafeTensorsFile(contentsOf: checkpoint), converted = try SafeTensorsFile(contentsOf: output)
        let ema = original.keys.filter { $0.hasPrefix("model_ema.") }
        #expect(!ema.isEmpty && ema.count < original.keys.count)
        #expect(Set(converted.keys) == Set(ema))
        for key in ema { #expect(try converted.tensor(key).scalars == original.tensor(key).scalars, "\(key)") }

        let unmatched = try CLI.run(["convert", checkpoint.path, output.path, "--only", "optimizer.**"])
        #expect(unmatched.status == 2)
        #expect(unmatched.stderr.contains("--only optimizer.**: no key of"), "\(unmatched.stderr)")
        let bad = try CLI.run(["convert", checkpoint.path, output.path, "--only", "a..b"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--only a..b"), "\(bad.stderr)")
    }
}
