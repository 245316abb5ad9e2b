import Foundation
import Testing
import ZFlowGraph
@testable import ZFlowData

// The same seed gives the same bytes; a change of output (on any machine) fails the golden.

@Test func splitMixMatchesTheReferenceSequence() {
    // Vigna's splitmix64.c with x = 0.
    var random = SplitMix64(seed: 0)
    #expect([random.next(), random.next(), random.next()] == [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
}

@Test func intInRangeStaysInRangeAndReachesBothEnds() {
    var random = SplitMix64(seed: 42)
    let values = (0..<2000).map { _ in random.int(in: -3...3) }
    #expect(Set(values) == Set(-3...3))
}

private func files(in folder: URL) throws -> [String: Data] {
    var result: [String: Data] = [:]
    for name in try #require(FileManager.default.subpaths(atPath: folder.path)) {
        let url = folder.appendingPathComponent(name)
        if try url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile == true { result[name] = try Data(contentsOf: url) }
    }
    return result
}

@Test func twoRunsWithOneSeedWriteTheSameBytes() throws {
    let root = try temporaryFolder()
    defer { try? FileManager.default.removeItem(at: root) }
    let (a, b, c) = (root.appendingPathComponent("a"), root.appendingPathComponent("b"), root.appendingPathComponent("c"))
    _ = try SyntheticDataset.write(count: 6, size: 48, seed: 11, to: a)
    _ = try SyntheticDataset.write(count: 6, size: 48, seed: 11, to: b)
    _ = try SyntheticDataset.write(count: 6, size: 48, seed: 12, to: c)
    let (first, second, other) = try (files(in: a), files(in: b), files(in: c))
    #expect(first.count > 7)
    #expect(first == second)
    #expect(first["images/0000.png"] != other["images/0000.png"])
}

@Test func aSceneDoesNotDependOnTheCount() throws {
    let few = (0..<3).map { SceneGenerator.scene(index: $0, seed: 5, size: 40) }
    let many = (0..<9).map { SceneGenerator.scene(index: $0, seed: 5, size: 40) }
    for index in 0..<3 {
        #expect(few[index].scene.pixels == many[index].scene.pixels)
        #expect(few[index].phrases == many[index].phrases)
    }
    #expect(many[3].scene.pixels != many[4].scene.pixels)
}

/// SHA-256 over the pixels, owners and phrases of scenes 0..<12 at size 64, seed 7: decoded
/// content, so the golden does not depend on the PNG encoder's zlib.
@Test func goldenDigestOfASmallSet() {
    var bytes: [UInt8] = []
    for index in 0..<12 {
        let (scene, phrases) = SceneGenerator.scene(index: index, seed: 7, size: 64)
        bytes += scene.pixels + scene.owner.map { UInt8(bitPattern: Int8($0)) }
        bytes += Array(phrases.map { "\($0.object):\($0.text)\n" }.joined().utf8)
    }
    #expect(SHA256.hex(Data(bytes)) == "a7a8dce187bdde079a133d846680777d512c6f91a0404122da511590c9afaf93")
}

func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("zflow-data-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
