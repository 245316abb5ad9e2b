import Foundation
import Synchronization
import Testing
import ZFlowIO
import ZFlowModels
import ZFlowTensor

/// A UNet whose weights are widened only while each layer computes (`ComponentWeights.onDemand`,
/// `zflow probe`'s feature pass) computes what the same UNet loaded whole computes, bit for bit,
/// run after run and from two threads at once; a gradient tape refuses it.
@Suite struct OnDemandWeightsTests {
    /// Every tensor of `source` as F16 in a new safetensors file.
    private static func float16Copy(of source: SafeTensorsFile) throws -> URL {
        var header: [String] = [], data: [UInt8] = []
        for key in source.keys {
            let tensor = try source.tensor(key)
            let start = data.count
            for value in tensor.buffer { data += withUnsafeBytes(of: Float16(value).bitPattern.littleEndian, Array.init) }
            header.append("\"\(key)\":{\"dtype\":\"F16\",\"shape\":\(tensor.shape),\"data_offsets\":[\(start),\(data.count)]}")
        }
        var headerBytes = Array("{\(header.joined(separator: ","))}".utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(UInt8(ascii: " ")) }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("zflow-f16-\(UUID().uuidString).safetensors")
        try Data(withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian, Array.init) + headerBytes + data).write(to: url)
        return url
    }

    @Test func unetOnDemandComputesWhatTheLoadedUNetDoes() throws {
        let url = try Self.float16Copy(of: SafeTensorsFile(contentsOf: SDTiny.compVisSafeTensors))
        defer { try? FileManager.default.removeItem(at: url) }
        let (weights, config) = try StableDiffusionWeights(url: url, unetConfig: SDTiny.unetConfig()).unet()
        let loaded = try UNet2DConditionModel(weights: weights, config: config)
        // The tiny UNet's products have 512 values and more, its norm weights and biases fewer.
        let onDemand = try UNet2DConditionModel(weights: weights.onDemand(from: 512), config: config)
        let held = TensorStorage.reachable(from: onDemand)
        #expect(held.filter(\.isOnDemand).count >= 40 && held.filter(\.isOnDemand).count < held.count,
                "\(held.filter(\.isOnDemand).count) of \(held.count) tensors on demand")
        #expect(TensorStorage.reachable(from: loaded).filter(\.isOnDemand).isEmpty)

        let io = try SDTiny.io()
        let latent = try io.tensor("latent"), context = try io.tensor("context").reshaped([77, 32])
        let timestep = try io.tensor("timestep").scalars[0]
        let taps = Set(1...loaded.tapCount)
        @Sendable func outputs(_ unet: UNet2DConditionModel) throws -> [[Float]] {
            let output = try unet(latent, timestep: timestep, context: context, taps: taps)
            return try [#require(output.eps).scalars] + taps.sorted().map { try #require(output.taps[$0]).scalars }
        }
        let expected = try outputs(loaded)
        #expect(try outputs(onDemand) == expected)
        #expect(try outputs(onDemand) == expected, "again, after every layer gave its weights back")
        let results = Mutex<[[[Float]]]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            let result = (try? outputs(onDemand)) ?? []
            results.withLock { $0.append(result) }
        }
        #expect(results.withLock { $0 } == [expected, expected], "two runs at once")
        // A tape's pullbacks would read the weights after their layer gave them back.
        #expect(throws: ShapeError.self) { try GradientTape().record { try outputs(onDemand) } }
    }
}
