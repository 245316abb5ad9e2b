import Foundation
import Testing
import ZFlowTensor
import ZFlowTestSupport
import ZFlowIO

/// Checkpoints written by torch.save (tools/fixtures/formats.py) against what torch.load gives.
@Suite struct TorchCheckpointTests {
    /// Every tensor equals the reference bit for bit (f32 exactly; f16/bf16/f64/int as torch's `.float()`).
    private func expectMatchesReference(_ name: String, expected expectedName: String, root: [String]? = nil) throws {
        let checkpoint = try TorchCheckpoint(contentsOf: FixtureFiles.url(name), root: root)
        let expected = try SafeTensorsFile(contentsOf: FixtureFiles.url(expectedName))
        #expect(checkpoint.keys == expected.keys, "\(name) keys")
        for key in expected.keys {
            let actual = try checkpoint.tensor(key), reference = try expected.tensor(key)
            #expect(checkpoint.shape(of: key) == reference.shape)
            #expect(bitwiseEqual(actual, reference), "\(name) \(key): \(actual.shape) \(actual.scalars) != \(reference.scalars)")
        }
    }

    @Test func nestedDictWithViewsHalfBFloatParametersAndScalars() throws {
        try expectMatchesReference("pt_nested.pt", expected: "pt_nested_expected.safetensors")
    }

    @Test func protocol5PickleReadsTheSame() throws {
        try expectMatchesReference("pt_nested_protocol5.pt", expected: "pt_nested_expected.safetensors")
    }

    @Test func orderedDictStateDict() throws {
        try expectMatchesReference("pt_ordered.pth", expected: "pt_ordered_expected.safetensors")
    }

    @Test func lightningCheckpointDefaultsToItsStateDict() throws {
        try expectMatchesReference("pt_lightning.ckpt", expected: "pt_lightning_expected.safetensors")
        let checkpoint = try TorchCheckpoint(contentsOf: FixtureFiles.url("pt_lightning.ckpt"))
        #expect(checkpoint.root == ["state_dict"])
        #expect(checkpoint.keys.allSatisfy { $0.hasPrefix("model.diffusion_model.") })
    }

    @Test func zip64ArchiveReadsTheSame() throws {
        try expectMatchesReference("pt_lightning_zip64.ckpt", expected: "pt_lightning_expected.safetensors")
    }

    @Test func lightningNonTensorEntriesAreInspectable() throws {
        let checkpoint = try TorchCheckpoint(contentsOf: FixtureFiles.url("pt_lightning.ckpt"))
        let contents = checkpoint.contents
        #expect(contents["global_step"] == .int(1234))
        #expect(contents["epoch"] == .int(4))
        #expect(contents["pytorch-lightning_version"] == .string("1.4.2"))
        #expect(contents["hyper_parameters"]?["unet_config"]?["attention"] == .list([.int(4), .int(2), .int(1)]))
        #expect(contents["hyper_parameters"]?["lr"] == .float(1e-4))
        // Lightning <= 1.4 keys callback states by class: a class reference is data, not a call.
        #expect(contents["callbacks"]?["__main__.FakeCheckpointCallback"]?["best_model_path"] == .string("x.ckpt"))
        // numpy 2 writes numpy._core, numpy 1 numpy.core: both are placeholders, never called.
        let score = contents["callbacks"]?["__main__.FakeCheckpointCallback"]?["best_model_score"]
        #expect(score == .other("numpy._core.multiarray.scalar object") || score == .other("numpy.core.multiarray.scalar object"))
        guard case let .list(optimizers)? = contents["optimizer_states"], case let .tensor(state)? = optimizers.first?["state"]?["0"]?["exp_avg"] else {
            Issue.record("optimizer state tensor missing: \(String(describing: contents["optimizer_states"]))")
            return
        }
        #expect(state.shape == [4, 3, 3, 3] && state.dtype == "F32")
    }

    @Test func wholeFileRootExposesEveryTensorWithDottedPaths() throws {
        let checkpoint = try TorchCheckpoint(contentsOf: FixtureFiles.url("pt_lightning.ckpt"), root: [])
        #expect(checkpoint.keys.contains("state_dict.model.diffusion_model.0.weight"))
        #expect(checkpoint.keys.contains("optimizer_states.0.state.0.exp_avg"))
        #expect(checkpoint.keys.contains("optimizer_states.0.state.0.step"))
        let viaRoot = try checkpoint.tensor("state_dict.model.diffusion_model.0.weight")
        let viaDefault = try TorchCheckpoint(contentsOf: FixtureFiles.url("pt_lightning.ckpt")).tensor("model.diffusion_model.0.weight")
        #expect(bitwiseEqual(viaRoot, viaDefault))
        let nested = try TorchCheckpoint(contentsOf: FixtureFiles.url("pt_nested.pt"), root: ["block", "inner"])
        #expect(nested.keys == ["weight"])
    }

    @Test func missingRootNamesThePath() throws {
        #expect {
            try TorchCheckpoint(contentsOf: FixtureFiles.url("pt_lightning.ckpt"), root: ["state_dict", "nope"])
        } throws: { error in
            "\(error)".contains("no entry 'nope' at state_dict")
        }
    }

    @Test func viewsOfOneStorageMaterializeIndependently() throws {
        let checkpoint = try TorchCheckpoint(contentsOf: FixtureFiles.url("pt_nested.pt"), root: ["views"])
        #expect(try checkpoint.tensor("transposed").scalars == (0..<24).map { Float(($0 % 4) * 6 + $0 / 4) })
        #expect(try checkpoint.tensor("rows_1_3").scalars == (6..<18).map(Float.init))
        #expect(try checkpoint.tensor("stepped").scalars == [0, 3, 12, 15])
        #expect(checkpoint.storedType(of: "base") == "F32")
        // Contiguous aligned f32 views borrow the mapping: the offset view points into the base's bytes.
        let base = try checkpoint.tensor("base"), rows = try checkpoint.tensor("rows_1_3")
        #expect(rows.pointer == base.pointer + 6)
    }

    @Test func storedTypesAreReported() throws {
        let checkpoint = try TorchCheckpoint(contentsOf: FixtureFiles.url("pt_nested.pt"))
        #expect(checkpoint.storedType(of: "half") == "F16")
        #expect(checkpoint.storedType(of: "bfloat") == "BF16")
        #expect(checkpoint.storedType(of: "int64") == "I64")
        #expect(checkpoint.shape(of: "zero_dim") == [])
        #expect(checkpoint.shape(of: "half_transposed") == [4, 3])
        #expect(checkpoint.shape(of: "note") == nil, "non-tensor leaves are not keys")
    }

    @Test func openTensorSourceChoosesByContent() throws {
        #expect(try openTensorSource(FixtureFiles.url("pt_nested.pt")) is TorchCheckpoint)
        #expect(try openTensorSource(FixtureFiles.url("st_f16.safetensors")) is SafeTensorsFile)
        #expect {
            try openTensorSource(FixtureFiles.url("pt_legacy.pt"))
        } throws: { "\($0)".contains("legacy") }
        let folder = try FixtureFiles.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let text = folder.appendingPathComponent("weights.bin")
        try Data("hello, not weights".utf8).write(to: text)
        #expect {
            try openTensorSource(text)
        } throws: { "\($0)".contains("supported are safetensors") && "\($0)".contains("torch.save") }
        let missing = folder.appendingPathComponent("missing.ckpt")
        #expect(throws: PathProblem(path: missing.path, kind: .missing, resolvedAgainst: nil)) {
            try openTensorSource(missing)
        }
    }

    @Test(arguments: [
        ("evil_os_system.ckpt", "posix.system"),
        ("evil_eval.pt", "builtins.eval"),
        ("evil_subprocess.pt", "subprocess.Popen"),
    ])
    func maliciousPicklesAreRefusedNamingTheGlobal(_ file: String, _ global: String) throws {
        #expect {
            try TorchCheckpoint(contentsOf: FixtureFiles.url(file))
        } throws: { error in
            let text = "\(error)"
            return text.contains("refused global \(global)") && text.contains(file)
        }
    }

    @Test func compressedAndLegacyFilesAreRefusedClearly() throws {
        #expect {
            try TorchCheckpoint(contentsOf: FixtureFiles.url("pt_deflated.ckpt"))
        } throws: { "\($0)".contains("is compressed (method 8)") }
        #expect {
            try TorchCheckpoint(contentsOf: FixtureFiles.url("pt_legacy.pt"))
        } throws: { "\($0)".contains("unsupported legacy") }
    }
}
