import Foundation
import Synchronization

/// Wall time spent in each kind of tensor op, for "where does the time go" (`zflow-bench pipeline
/// --op-times`, the counterpart of `torch.profiler`'s per-op table). Off by default: then an op pays
/// one atomic load. When on, each public op times itself under a label ("conv 3x3", "linear",
/// "attention"), and each pullback a gradient tape runs under its op's name ("conv2d backward",
/// "attention backward"); an op called inside another (a conv's GEMM, GEGLU's GELU) is counted in the outer
/// one only, so the labels' times add up to the time spent inside ops and never overlap. The time
/// of everything between ops (the models' own loops, views, node bookkeeping) is what a node's
/// time has beyond the sum.
public final class OpTimes: @unchecked Sendable {
    public static let shared = OpTimes()

    /// One per process: a timing stops on `shared`, where it started.
    private init() {}

    /// Calls, wall nanoseconds and the process's CPU nanoseconds meanwhile, per label since the
    /// process started. CPU over wall says how many cores an op kept busy (ops that run beside
    /// another node's count that node's work too).
    public struct Total: Equatable, Sendable {
        public var calls = 0
        public var nanoseconds: UInt64 = 0
        public var cpuNanoseconds: UInt64 = 0
        public var seconds: Double { Double(nanoseconds) / 1e9 }
        public var cpuSeconds: Double { Double(cpuNanoseconds) / 1e9 }

        public init() {}

        /// What was added after `earlier`, a snapshot of the same label.
        public func since(_ earlier: Total?) -> Total {
            guard let earlier else { return self }
            var added = Total()
            added.calls = calls - earlier.calls
            added.nanoseconds = nanoseconds &- earlier.nanoseconds
            added.cpuNanoseconds = cpuNanoseconds &- earlier.cpuNanoseconds
            return added
        }
    }

    private let enabled = Atomic<Bool>(false)
    private let lock = NSLock()
    private var totals: [String: Total] = [:]
    /// Each thread's depth of timed ops (a `pthread` key: ops are called from Dispatch threads,
    /// not tasks, and a timing starts and stops in different calls).
    private let depthKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    public var isEnabled: Bool {
        get { enabled.load(ordering: .relaxed) }
        set { enabled.store(newValue, ordering: .relaxed) }
    }

    /// Every label's total so far.
    public func snapshot() -> [String: Total] { lock.withLock { totals } }

    /// A running timing, or nil when timing is off or an op is already being timed on this thread.
    /// `defer { timing?.stop() }` right after starting it.
    public func start(_ label: @autoclosure () -> String) -> Timing? {
        guard isEnabled else { return nil }
        let depth = Int(bitPattern: pthread_getspecific(depthKey))
        pthread_setspecific(depthKey, UnsafeRawPointer(bitPattern: depth + 1))
        guard depth == 0 else { return Timing(label: nil, start: 0, cpuStart: 0) }
        return Timing(label: label(), start: DispatchTime.now().uptimeNanoseconds, cpuStart: workingCPUNanoseconds())
    }

    public struct Timing {
        let label: String?
        let start: UInt64
        let cpuStart: UInt64

        public func stop() {
            let times = OpTimes.shared
            let depth = Int(bitPattern: pthread_getspecific(times.depthKey))
            pthread_setspecific(times.depthKey, UnsafeRawPointer(bitPattern: max(0, depth - 1)))
            guard let label else { return }
            let elapsed = DispatchTime.now().uptimeNanoseconds - start
            let cpu = cpuNanoseconds(from: cpuStart, to: workingCPUNanoseconds())
            times.lock.withLock {
                times.totals[label, default: Total()].calls += 1
                times.totals[label, default: Total()].nanoseconds += elapsed
                times.totals[label, default: Total()].cpuNanoseconds += cpu
            }
        }
    }
}

/// CPU time this process's threads have spent working so far, in nanoseconds: all their CPU time
/// (CLOCK_PROCESS_CPUTIME_ID) less what ZFlow's workers and callers spent polling for a split's
/// parts (`WorkerPool`), so that CPU over wall time says how many cores were kept busy. The two
/// are read one after the other, so a later reading can be a polling step (about a microsecond)
/// below an earlier one: subtract readings with `cpuNanoseconds(from:to:)`.
public func workingCPUNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    let process = UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    return process &- min(process, WorkerPool.shared.idleCPUNanoseconds)
}

/// The working CPU time between two readings of `workingCPUNanoseconds`, never below zero.
public func cpuNanoseconds(from start: UInt64, to end: UInt64) -> UInt64 { end > start ? end - start : 0 }

/// Starts timing one op on the shared `OpTimes` (nil when off); see `OpTimes.start`.
@inline(__always)
func timeOp(_ label: @autoclosure () -> String) -> OpTimes.Timing? { OpTimes.shared.start(label()) }
