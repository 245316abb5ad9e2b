import Foundation
import Testing
import ZFlowIO
@testable import ZFlowNodes
import ZFlowTensor

/// A stand-in for a model: a few tensors, one storage possibly shared by two of them.
private final class StandInModel: Sendable {
    let layers: [Tensor]
    let shared: Tensor?
    init(floats counts: [Int], shared: Tensor? = nil) {
        layers = counts.map { Tensor(zeros: [$0]) } + (shared.map { [$0] } ?? [])
        self.shared = shared
    }
}

/// Counts the loads a store asks for.
private final class Loads: @unchecked Sendable {
    private(set) var count = 0
    func model(floats: Int) -> StandInModel {
        count += 1
        return StandInModel(floats: [floats])
    }
}

@Suite struct ModelStoreTests {
    /// A weights file of `bytes` bytes in a fresh folder.
    private func weightsFile(bytes: Int = 16) throws -> URL {
        let folder = temporaryPath("")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent("weights.safetensors")
        try Data(repeating: 1, count: bytes).write(to: file)
        return file
    }

    @Test func theSizeIsTheBytesOfTheDistinctTensorStoragesAModelHolds() {
        let shared = Tensor(zeros: [25])
        #expect(ModelSize.estimate(StandInModel(floats: [100, 50], shared: shared)) == (100 + 50 + 25) * 4)
        #expect(ModelSize.estimate(StandInModel(floats: [])) == 0)
    }

    /// The tiny LD-ZNet holds the checkpoint's ZNet tensors (the file also holds the EMA copy).
    @Test func theSizeOfARealModelIsThatOfItsWeights() throws {
        let path = repositoryPath("models/tiny/ldznet-tiny.safetensors")
        let znet = try LDZNetModels.znet(path, fusion: "cross_attention")
        let file = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: path))
        let stored = try file.keys.filter { $0.hasPrefix("model_ema.") }.map { try file.tensor($0).count * 4 }.reduce(0, +)
        let estimate = ModelSize.estimate(znet)
        #expect(estimate > stored * 9 / 10 && estimate < stored * 11 / 10, "\(estimate) bytes estimated, \(stored) stored")
    }

    @Test func aModelIsLoadedOnceUntilItsFileOrSidecarIsRewritten() throws {
        let file = try weightsFile()
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let store = ModelStore(budget: 1 << 30), loads = Loads()
        let first = try store.model("m", path: file.path) { loads.model(floats: 4) }
        #expect(try store.model("m", path: file.path) { loads.model(floats: 4) } === first)
        #expect(loads.count == 1)

        try Data(repeating: 2, count: 16).write(to: file, options: .atomic)  // same size, new content
        #expect(try store.model("m", path: file.path) { loads.model(floats: 4) } !== first)
        #expect(loads.count == 2)

        try Data("{}".utf8).write(to: file.deletingPathExtension().appendingPathExtension("json"))
        _ = try store.model("m", path: file.path) { loads.model(floats: 4) }
        _ = try store.model("m", path: file.path) { loads.model(floats: 4) }
        #expect(loads.count == 3, "a new sidecar reloads once")
        #expect(store.loadedKeys.count == 1, "the stale model is not kept")
    }

    @Test func modelsOverTheBudgetAreDroppedLeastRecentlyUsedFirst() throws {
        let files = try (0..<3).map { _ in try weightsFile() }
        defer { for file in files { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) } }
        let store = ModelStore(budget: 1000), loads = Loads()
        func use(_ index: Int) throws { _ = try store.model("m", path: files[index].path) { loads.model(floats: 100) } }
        try use(0)
        try use(1)
        try use(0)  // 400 + 400 bytes fit; model 1 is now the least recently used
        #expect(loads.count == 2)
        try use(2)  // 1200 bytes: model 1 goes
        #expect(store.loadedKeys == Set([0, 2].map { "m|\(files[$0].path)" }))
        try use(0)
        #expect(loads.count == 3, "model 0 stayed")
        try use(1)
        #expect(loads.count == 4, "model 1 was dropped and is loaded again")
        #expect(store.loadedKeys.count == 2)
    }

    @Test func aModelLargerThanTheBudgetStaysWhileItIsTheOneAskedFor() throws {
        let file = try weightsFile()
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let store = ModelStore(budget: 10), loads = Loads()
        let model = try store.model("m", path: file.path) { loads.model(floats: 100) }
        #expect(try store.model("m", path: file.path) { loads.model(floats: 100) } === model)
        #expect(loads.count == 1)
    }
}
