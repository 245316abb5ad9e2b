import Foundation

// The in-memory cache level: node outputs by key, within a byte budget. When
// full it evicts the entries that are cheapest to recompute per byte held.

final class MemoryCache: @unchecked Sendable {
    private struct Entry {
        var outputs: [String: any Sendable]
        var bytes: Int
        var seconds: Double
        var lastUse: UInt64
    }

    let budget: Int
    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    private var total = 0
    private var clock: UInt64 = 0

    init(budget: Int) { self.budget = budget }

    var byteCount: Int { lock.withLock { total } }

    func outputs(for key: String) -> [String: any Sendable]? {
        lock.withLock {
            guard var entry = entries[key] else { return nil }
            clock += 1
            entry.lastUse = clock
            entries[key] = entry
            return entry.outputs
        }
    }

    func contains(_ key: String) -> Bool { lock.withLock { entries[key] != nil } }

    /// Stores the outputs unless they alone exceed the budget, evicting others as needed.
    func store(_ outputs: [String: any Sendable], for key: String, bytes: Int, seconds: Double) {
        guard bytes <= budget else { return }
        lock.withLock {
            clock += 1
            if let old = entries.removeValue(forKey: key) { total -= old.bytes }
            while total + bytes > budget, let victim = cheapestVictim() {
                total -= entries.removeValue(forKey: victim)?.bytes ?? 0
            }
            entries[key] = Entry(outputs: outputs, bytes: bytes, seconds: seconds, lastUse: clock)
            total += bytes
        }
    }

    /// The entry with the lowest recompute seconds per byte; the least recently used on ties.
    private func cheapestVictim() -> String? {
        entries.min { a, b in
            let costA = a.value.seconds / Double(max(1, a.value.bytes))
            let costB = b.value.seconds / Double(max(1, b.value.bytes))
            return costA != costB ? costA < costB : a.value.lastUse < b.value.lastUse
        }?.key
    }
}
