import Dispatch
import Foundation

// The disk-cache writes of one run, off its critical path: a node's dependents start as soon
// as its values are in memory while its entry is encoded and written on the engine's serial
// write queue. The run waits for them before it returns and reports the ones that failed (a
// failed write costs a recomputation next time, nothing else).

final class DiskWrites: @unchecked Sendable {
    private let queue: DispatchQueue
    private let group = DispatchGroup()
    private let lock = NSLock()
    private var failures: [String] = []

    init(queue: DispatchQueue) { self.queue = queue }

    func enqueue(_ what: String, _ write: @escaping @Sendable () throws -> Void) {
        queue.async(group: group) {
            do {
                try write()
            } catch {
                self.lock.withLock { self.failures.append("\(what): \(Self.describe(error))") }
            }
        }
    }

    /// "PATH: reason" for a file-system error, whose own description is a dictionary dump.
    private static func describe(_ error: any Error) -> String {
        let bridged = error as NSError
        guard let path = bridged.userInfo[NSFilePathErrorKey] as? String,
              let underlying = (bridged.userInfo[NSUnderlyingErrorKey] as? any Error).map({ $0 as NSError }),
              underlying.domain == NSPOSIXErrorDomain else { return "\(error)" }
        return "\(path): \(String(cString: strerror(Int32(underlying.code))))"
    }

    /// Waits for every enqueued write; the failed ones, in the order they were written.
    func finish() async -> [String] {
        await withCheckedContinuation { continuation in group.notify(queue: queue) { continuation.resume() } }
        return lock.withLock { failures }
    }
}
