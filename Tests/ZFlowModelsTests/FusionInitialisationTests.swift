import Foundation
import Testing
import ZFlowIO
import ZFlowModels
import ZFlowTensor

/// `LDZNetCheckpoint.initialFusionParameters`: what training adds for a fusion the file lacks.
@Suite struct FusionInitialisationTests {
    /// A strategy owning `gate.*` with one tensor per position, its values marking the seed.
    struct Gated: InitialisedOnly {
        static let name = "gated"
        static let parameterPrefixes = ["gate."]
        let position: FusionPosition
        static func initialParameters(position: FusionPosition, seed: UInt64) throws -> [String: Tensor]? {
            ["gate.value": Tensor(shape: [1], scalars: [Float(seed)])]
        }
        init(_ weights: WeightReader, position: FusionPosition) throws { self.position = position }
    }

    /// A strategy initialising a key outside its prefixes.
    struct Stray: InitialisedOnly {
        static let name = "stray"
        static let parameterPrefixes = ["stray."]
        let position: FusionPosition
        static func initialParameters(position: FusionPosition, seed: UInt64) throws -> [String: Tensor]? {
            ["other.value": Tensor(zeros: [1])]
        }
        init(_ weights: WeightReader, position: FusionPosition) throws { self.position = position }
    }

    static let registry = FusionRegistry(CrossAttentionFusion.self, ConcatFusion.self, NoFusion.self, Gated.self, Stray.self)
    static let tiny = LDZNetFixtures.tinyModels.appendingPathComponent("ldznet-tiny.safetensors")

    @Test func eachPositionWithoutTheTensorsGetsThemUnderItsStoredKeyWithItsOwnSeed() throws {
        let checkpoint = try LDZNetCheckpoint(url: Self.tiny, copy: .training)
        let initial = try checkpoint.initialFusionParameters(fusion: Gated.name, seed: 5, registry: Self.registry)
        let expected = [("input_blocks.8.1", 6), ("middle_block.1", 7), ("output_blocks.3.1", 8),
                        ("output_blocks.4.1", 9), ("output_blocks.5.1", 10)]
        #expect(initial.mapValues(\.scalars) == Dictionary(uniqueKeysWithValues: expected.map { position, tap in
            ("model.diffusion_model.\(position).gate.value", [Float(5 * 1_000_003 + tap)])
        }))
        // The built-in fusion's tensors are stored, and a strategy without initial values adds nothing.
        #expect(try checkpoint.initialFusionParameters(fusion: CrossAttentionFusion.name, seed: 5, registry: Self.registry).isEmpty)
        #expect(try checkpoint.initialFusionParameters(fusion: ConcatFusion.name, seed: 5, registry: Self.registry).isEmpty)
    }

    @Test func aKeyOutsideTheStrategysPrefixesIsAnError() throws {
        let checkpoint = try LDZNetCheckpoint(url: Self.tiny, copy: .training)
        #expect(throws: FusionError.initialParameterNotOwned(fusion: "stray", key: "other.value", prefixes: ["stray."])) {
            try checkpoint.initialFusionParameters(fusion: Stray.name, seed: 0, registry: Self.registry)
        }
        #expect(FusionError.initialParameterNotOwned(fusion: "stray", key: "other.value", prefixes: ["stray."]).description
                == "fusion 'stray' initialises 'other.value', which is under none of its parameterPrefixes ('stray.')")
    }
}

/// Test strategies that only differ in their names, prefixes and initial values.
protocol InitialisedOnly: FusionStrategy {}

extension InitialisedOnly {
    static var needsSDFeature: Bool { false }
    func hook(sdFeature: Tensor?) throws -> (any SpatialTransformerHook)? { nil }
}
