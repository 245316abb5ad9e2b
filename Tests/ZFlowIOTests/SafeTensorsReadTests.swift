import Foundation
import Testing
import ZFlowTensor
import ZFlowTestSupport
@testable import ZFlowIO

@Suite struct SafeTensorsReadTests {
    @Test func f32FileReadsKeysShapesAndValues() throws {
        let file = try SafeTensorsFile(contentsOf: FixtureFiles.url("st_f32.safetensors"))
        #expect(file.keys == ["conv.bias", "conv.weight", "empty", "scalar", "specials", "wide"])
        #expect(file.shape(of: "conv.weight") == [4, 3, 3, 3])
        #expect(file.shape(of: "scalar") == [])
        #expect(file.shape(of: "missing") == nil)
        #expect(file.metadata == ["format": "pt"])
        #expect(try file.tensor("scalar").scalars == [2.5])
        #expect(try file.tensor("empty").shape == [0, 5])
        let specials = try file.tensor("specials").scalars
        #expect(specials.count == 12 && specials[4] == 65504 && specials[8] == .infinity && specials[1].sign == .minus)
        #expect(throws: TensorFileError.self) { try file.tensor("missing") }
    }

    @Test func alignedF32IsBorrowedFromTheMapping() throws {
        let file = try SafeTensorsFile(contentsOf: FixtureFiles.url("st_f32.safetensors"))
        let first = try file.tensor("conv.weight"), second = try file.tensor("conv.weight")
        #expect(first.storage.base == second.storage.base, "two reads of an aligned f32 tensor share the mapped bytes")
    }

    @Test(arguments: ["f16", "bf16", "mixed"])
    func convertedTypesMatchTheReferenceConversion(_ name: String) throws {
        let file = try SafeTensorsFile(contentsOf: FixtureFiles.url("st_\(name).safetensors"))
        let expected = try SafeTensorsFile(contentsOf: FixtureFiles.url("st_\(name)_expected.safetensors"))
        #expect(file.keys == expected.keys)
        for key in expected.keys {
            let actual = try file.tensor(key), reference = try expected.tensor(key)
            #expect(bitwiseEqual(actual, reference), "\(name) \(key): \(actual.scalars) != \(reference.scalars)")
        }
    }

    @Test func halfConversionIsExactForEveryBitPattern() {
        for bits in UInt16.min...UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            let actual = floatFromHalfBits(bits)
            if expected.isNaN {
                #expect(actual.isNaN)
            } else if actual.bitPattern != expected.bitPattern {
                Issue.record("half 0x\(String(bits, radix: 16)) -> \(actual), expected \(expected)")
                return
            }
        }
    }
}
