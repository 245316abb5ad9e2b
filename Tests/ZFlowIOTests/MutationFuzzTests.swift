import Foundation
import Testing
@testable import ZFlowIO
import ZFlowTestSupport

/// Bounded randomized mutations of real files: every outcome must be a thrown
/// TensorFileError or a file whose tensors all materialize; never a crash or a hang.
@Suite struct MutationFuzzTests {
    private struct Outcome: CustomStringConvertible {
        var opened = 0, refused = 0, tensorsRead = 0
        var description: String { "\(opened + refused) mutations: \(opened) opened (\(tensorsRead) tensors read), \(refused) refused" }
    }

    /// Flips bits, writes interesting bytes or truncates, 1-3 times; `focus` is where most mutations land.
    private func mutate(_ original: [UInt8], focus: Range<Int>, using generator: inout SeededGenerator) -> [UInt8] {
        var bytes = original
        for _ in 0 ..< Int.random(in: 1...3, using: &generator) {
            guard !bytes.isEmpty else { break }
            let region = Int.random(in: 0..<10, using: &generator) < 8 ? focus.clamped(to: 0 ..< bytes.count) : 0 ..< bytes.count
            guard !region.isEmpty else { continue }
            let at = Int.random(in: region, using: &generator)
            switch Int.random(in: 0..<10, using: &generator) {
            case 0..<5: bytes[at] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
            case 5..<9: bytes[at] = [0x00, 0xFF, 0x7F, 0x80, 0x22, 0x7D, 0x5D, 0x2E, 0x52, 0x28].randomElement(using: &generator)!
            default: bytes.removeSubrange(at...)
            }
        }
        return bytes
    }

    private func run(_ fixture: String, focus: (URL) throws -> Range<Int>, open: (URL) throws -> TensorSource, seed: UInt64) throws -> Outcome {
        let url = FixtureFiles.url(fixture)
        let original = try [UInt8](Data(contentsOf: url))
        let region = try focus(url)
        let folder = try FixtureFiles.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let mutated = folder.appendingPathComponent("mutated")
        var generator = SeededGenerator(seed: seed)
        var outcome = Outcome()
        for iteration in 0..<300 {
            try Data(mutate(original, focus: region, using: &generator)).write(to: mutated)
            do {
                let source = try open(mutated)
                outcome.opened += 1
                for key in source.keys {
                    let tensor = try source.tensor(key)
                    #expect(tensor.shape == source.shape(of: key))
                    _ = tensor.scalars.reduce(0, +)  // touch every value
                    outcome.tensorsRead += 1
                }
            } catch is TensorFileError {
                outcome.refused += 1
            } catch {
                Issue.record("iteration \(iteration): unexpected error type \(type(of: error)): \(error)")
            }
        }
        return outcome
    }

    @Test func safetensorsMutations() throws {
        let clock = ContinuousClock(), start = clock.now
        let outcome = try run("st_f16.safetensors", focus: { url in
            let bytes = try Data(contentsOf: url)
            return 0 ..< 8 + Int(bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        }, open: { try SafeTensorsFile(contentsOf: $0) }, seed: 2024)
        print("safetensors fuzz: \(outcome) in \(clock.now - start)")
        #expect(outcome.opened > 0 && outcome.refused > 0, "\(outcome)")
    }

    @Test func checkpointMutations() throws {
        let clock = ContinuousClock(), start = clock.now
        let outcome = try run("pt_nested.pt", focus: { url in
            let archive = try ZipArchive(file: MappedFile(path: url.path))
            return archive.entry(named: "pt_nested/data.pkl")!.data
        }, open: { try TorchCheckpoint(contentsOf: $0) }, seed: 7)
        print("checkpoint fuzz: \(outcome) in \(clock.now - start)")
        #expect(outcome.opened > 0 && outcome.refused > 0, "\(outcome)")
    }

    /// In memory, so many more: mutated pickles straight into the unpickler and the tree conversion.
    @Test func pickleMutationsInMemory() throws {
        let url = FixtureFiles.url("pt_lightning.ckpt")
        let file = try MappedFile(path: url.path)
        let pickle = Array(file.bytes(try ZipArchive(file: file).entry(named: "pt_lightning/data.pkl")!.data))
        var generator = SeededGenerator(seed: 99)
        var parsed = 0, refused = 0
        let clock = ContinuousClock(), start = clock.now
        for _ in 0..<3000 {
            let mutated = mutate(pickle, focus: 0 ..< pickle.count, using: &generator)
            do {
                _ = try mutated.withUnsafeBytes { try RestrictedUnpickler.withValue(of: $0) { try CheckpointValue.converting($0) } }
                parsed += 1
            } catch is PickleError {
                refused += 1
            }
        }
        print("pickle fuzz: 3000 mutations: \(parsed) parsed, \(refused) refused in \(clock.now - start)")
        #expect(parsed > 0 && refused > 0)
    }

    /// Exhaustive: each byte of the length and header inverted in turn.
    @Test func everySafetensorsHeaderByteFlipped() throws {
        let original = try [UInt8](Data(contentsOf: FixtureFiles.url("st_bf16.safetensors")))
        let headerEnd = 8 + Int(original.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let folder = try FixtureFiles.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("flipped.safetensors")
        var opened = 0, refused = 0
        for index in 0..<headerEnd {
            var bytes = original
            bytes[index] ^= 0xFF
            try Data(bytes).write(to: url)
            do {
                let file = try SafeTensorsFile(contentsOf: url)
                for key in file.keys { _ = try file.tensor(key) }
                opened += 1
            } catch is TensorFileError {
                refused += 1
            }
        }
        print("safetensors header flips: \(headerEnd) bytes: \(opened) opened, \(refused) refused")
        #expect(refused > headerEnd / 2, "most single-byte header corruptions are caught")
    }

    /// Exhaustive, in memory: each pickle byte inverted in turn.
    @Test func everyPickleByteFlipped() throws {
        let file = try MappedFile(path: FixtureFiles.url("pt_nested.pt").path)
        let pickle = Array(file.bytes(try ZipArchive(file: file).entry(named: "pt_nested/data.pkl")!.data))
        var parsed = 0, refused = 0
        for index in pickle.indices {
            var bytes = pickle
            bytes[index] ^= 0xFF
            do {
                _ = try bytes.withUnsafeBytes { try RestrictedUnpickler.withValue(of: $0) { try CheckpointValue.converting($0) } }
                parsed += 1
            } catch is PickleError {
                refused += 1
            }
        }
        print("pickle byte flips: \(pickle.count) bytes: \(parsed) parsed, \(refused) refused")
        #expect(refused > pickle.count / 2)
    }
}
