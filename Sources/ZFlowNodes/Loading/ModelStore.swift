import Foundation
import ZFlowGraph
import ZFlowTensor

/// Loads each model once and shares it with every node that names the same file. The key is
/// the model kind plus the file's resolved path; the entry remembers the fingerprint of the file
/// (of every file in a folder) and of its sidecar `<file>.json`, so a rewritten weights file is
/// loaded again. Loaded models beyond the memory budget are dropped, least recently used first
/// (a node still running on a dropped model keeps it alive until it finishes). Loads of
/// different keys run in parallel; a second request for a key being loaded waits.
final class ModelStore: @unchecked Sendable {
    /// Half the machine's memory: the full SD v1 + LD-ZNet weights take about 7 GB as float32.
    static let shared = ModelStore(budget: Int(clamping: ProcessInfo.processInfo.physicalMemory / 2))

    /// The bytes loaded models may hold together, as `sizeOf` estimates them.
    let budget: Int
    private let sizeOf: @Sendable (any Sendable) -> Int
    private let lock = NSLock()
    private var slots: [String: Slot] = [:]
    private var clock: UInt64 = 0

    /// One model being loaded or loaded. Its own lock makes a load hold only its key; the other
    /// fields belong to the store's lock.
    private final class Slot: @unchecked Sendable {
        let lock = NSLock()
        let fingerprint: String
        var model: (any Sendable)?
        var bytes = 0
        var lastUse: UInt64 = 0

        init(fingerprint: String) { self.fingerprint = fingerprint }
    }

    init(budget: Int, sizeOf: @escaping @Sendable (any Sendable) -> Int = ModelSize.estimate) {
        self.budget = budget
        self.sizeOf = sizeOf
    }

    func model<Model: Sendable>(_ kind: String, path: String, load: () throws -> Model) throws -> Model {
        let url = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath()
        let key = "\(kind)|\(url.path)"
        // The sidecar as `SidecarConfigs.read(besides:)` finds it: the loaders read it too.
        let sidecar = url.deletingPathExtension().appendingPathExtension("json")
        let fingerprint = FileFingerprint.of(path: url.path) + "|" + FileFingerprint.of(path: sidecar.path)
        let slot = lock.withLock {
            let current = slots[key].flatMap { $0.fingerprint == fingerprint ? $0 : nil } ?? Slot(fingerprint: fingerprint)
            slots[key] = current
            clock += 1
            current.lastUse = clock
            return current
        }
        let (model, loaded): (Model, Bool) = try slot.lock.withLock {
            if let model = slot.model as? Model { return (model, false) }
            releasePooledMemory()
            let model = try load()
            slot.model = model
            return (model, true)
        }
        if loaded {
            let bytes = sizeOf(model)
            lock.withLock {
                slot.bytes = bytes
                dropLeastRecentlyUsed(sparing: slot)
            }
        }
        return model
    }

    /// The keys of the models held now, for tests.
    var loadedKeys: Set<String> {
        lock.withLock { Set(slots.filter { $0.value.bytes > 0 }.keys) }
    }

    /// Drops loaded models, least recently used first, until the rest fit the budget; `kept`
    /// stays even alone over it (the node asking for it needs it). Caller holds `lock`.
    private func dropLeastRecentlyUsed(sparing kept: Slot) {
        var total = slots.values.map(\.bytes).reduce(0, +)
        let candidates = slots.filter { $0.value !== kept && $0.value.bytes > 0 }.sorted { $0.value.lastUse < $1.value.lastUse }
        for (key, slot) in candidates where total > budget {
            slots[key] = nil
            total -= slot.bytes
        }
    }
}
