import Foundation
import ZFlowTensor

/// Paths of the committed fixtures (tools/fixtures/formats.py) and scratch files.
enum FixtureFiles {
    static func url(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
    }

    /// A fresh empty folder for files a test writes: in /dev/shm when there is one
    /// (the hostile-input tests write thousands of small files; a disk is ~100x slower).
    static func scratchFolder() throws -> URL {
        let memory = URL(fileURLWithPath: "/dev/shm")
        let base = FileManager.default.isWritableFile(atPath: memory.path) ? memory : FileManager.default.temporaryDirectory
        let folder = base.appendingPathComponent("zflow-io-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }
}

