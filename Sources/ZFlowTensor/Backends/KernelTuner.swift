import Foundation
import Glibc

/// Chooses, per operation and shape, the fastest backend on this machine by timing the candidates
/// on first use, as cuDNN's benchmark mode and FFTW's wisdom do, and remembers the winners in a
/// per-machine file (`TuningFile`). Later runs on the same machine use the recorded winners; a
/// machine whose key differs (another CPU, core count or library) measures again. Where ZFlow's own
/// kernels have more than one algorithm for an op (conv2d: Winograd or im2col), the algorithm is
/// chosen the same way (`algorithm(for:)`).
///
/// `ZFLOW_BACKEND=own|openblas|onednn` forces one backend for every op that has it;
/// `ZFLOW_TUNING=recorded` uses recorded winners but times nothing (unrecorded shapes take the
/// fallback); `ZFLOW_TUNING_FILE` names the file. For a given machine and recorded choice, results
/// are deterministic: every candidate is.
public final class KernelTuner: @unchecked Sendable {
    public static let shared = KernelTuner(environment: ProcessInfo.processInfo.environment)

    /// A backend forced for the ops the current task starts (tests and benchmarks run each
    /// backend this way without touching what other tasks use); it wins over everything else.
    @TaskLocal public static var scopedBackend: KernelBackend?

    /// Where the current task's ops note the backends and own algorithms they ran on (benchmarks
    /// and `zflow tune` report them).
    @TaskLocal public static var decisions: KernelDecisions?

    public enum Mode: String, Sendable {
        /// Time unrecorded shapes on first use and record the winner.
        case measure
        /// Use recorded winners only; never time anything.
        case recorded
    }

    /// Ops smaller than this many multiply-adds are not worth timing and take the fallback.
    static let minimumTunedWork = 1 << 23
    /// Each candidate's total timed run time that ends tuning (after the first rounds), and the cap
    /// on rounds: at most ~20 runs x a few ms more per short op, once per machine.
    static let minimumTimedSeconds = 0.03
    static let maximumRounds = 20

    private let lock = NSLock()
    private var forcedBackend: KernelBackend?
    private var mode: Mode
    private var fileURL: URL?
    private var tuning: TuningFile
    /// `zflow tune`: time again the recorded choices timed on a busy machine, once per process.
    private var retimesBusyChoices = false
    private var retimed: Set<String> = []
    /// Problems found at start (a bad ZFLOW_BACKEND, an unreadable tuning file), for the CLI to show.
    public private(set) var warnings: [String] = []

    init(environment: [String: String]) {
        mode = .measure
        tuning = TuningFile(machine: MachineKey.current)
        if let name = environment["ZFLOW_BACKEND"], !name.isEmpty {
            if let backend = KernelBackend(rawValue: name.lowercased()) {
                if backend.isAvailable { forcedBackend = backend } else {
                    warnings.append("ZFLOW_BACKEND=\(name): \(backend.libraryDescription); using measured choices")
                }
            } else {
                warnings.append("ZFLOW_BACKEND=\(name) is not one of own, openblas, onednn; ignored")
            }
        }
        if let name = environment["ZFLOW_TUNING"], !name.isEmpty {
            if let chosen = Mode(rawValue: name) { mode = chosen } else {
                warnings.append("ZFLOW_TUNING=\(name) is not one of measure, recorded; measuring")
            }
        }
        let file = environment["ZFLOW_TUNING_FILE"].map { URL(fileURLWithPath: $0) }
            ?? KernelTuner.defaultFolder(environment).appendingPathComponent("tuning-\(tuning.machine.digest).json")
        useFile(file)
    }

    static func defaultFolder(_ environment: [String: String]) -> URL {
        let base = environment["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
        return base.appendingPathComponent("zflow").appendingPathComponent("tuning")
    }

    /// Reads winners from `url` (and records new ones there). A file that is not a tuning file of
    /// this machine is ignored, never trusted, and replaced at the next write.
    public func useFile(_ url: URL?) {
        lock.withLock {
            fileURL = url
            tuning = TuningFile(machine: MachineKey.current)
            guard let url, let data = try? Data(contentsOf: url) else { return }
            switch TuningFile.decode(data, expecting: tuning.machine) {
            case .success(let recorded): tuning = recorded
            case .failure(let reason): warnings.append("ignoring tuning file \(url.path): \(reason)")
            }
        }
    }

    public var file: URL? { lock.withLock { fileURL } }

    /// Forces one backend (nil: measured choices again); for tests, benchmarks and `zflow tune`.
    public func force(_ backend: KernelBackend?) { lock.withLock { forcedBackend = backend } }
    public var forced: KernelBackend? { lock.withLock { forcedBackend } }

    public func setMode(_ newMode: Mode) { lock.withLock { mode = newMode } }
    /// Whether recorded choices timed while other work used more than `TuningFile.Choice.busyShare`
    /// of the machine are timed again (once per process) instead of used.
    public func setRetimesBusyChoices(_ retimes: Bool) { lock.withLock { retimesBusyChoices = retimes } }

    /// Forgets every recorded winner, in this process and in the file: shapes recorded there would
    /// otherwise answer the next measurement as another process's choice (`record`).
    public func reset() throws {
        lock.lock()
        defer { lock.unlock() }
        tuning.choices = [:]
        retimed = []
        guard let url = fileURL, FileManager.default.fileExists(atPath: url.path) else { return }
        try withExclusiveLock(url.appendingPathExtension("lock")) { try tuning.encoded().write(to: url, options: .atomic) }
    }

    /// The recorded choices, for `zflow tune` and `zflow-bench ops`.
    public var choices: [String: TuningFile.Choice] { lock.withLock { tuning.choices } }

    /// What decides the numbers ops compute in this process, for cache keys: a forced backend, or
    /// the machine whose recorded winners are used.
    public var implementationIdentity: String {
        lock.withLock {
            if let forcedBackend { return "kernels: \(forcedBackend.rawValue) (forced)" }
            return "kernels: tuned for \(tuning.machine.digest) (\(mode.rawValue))"
        }
    }

    /// The backend for `op` on the shape described by `shape` (which must identify the work
    /// completely), timing every available candidate with `run` when nothing is recorded.
    /// `run(candidate)` computes the op into scratch output and returns false if it cannot.
    /// `shape` is only built for ops large enough to be tuned: most GEMM calls are small.
    func backend(for op: KernelOp, shape: @autoclosure () -> String, work: Int,
                 run: (KernelBackend) -> Bool) -> KernelBackend {
        let chosen = decide(op, shape: shape, work: work, run: run)
        KernelTuner.decisions?.note(op.rawValue, chosen.rawValue)
        return chosen
    }

    private func decide(_ op: KernelOp, shape: () -> String, work: Int, run: (KernelBackend) -> Bool) -> KernelBackend {
        // Confined work stays on its thread, and nothing timed there is recorded for the unconfined.
        if CoreConfinement.confined { return .own }
        if let scoped = KernelTuner.scopedBackend { return op.forced(scoped) }
        if let forcedBackend = forced { return op.forced(forcedBackend) }
        // Smaller ops are never timed, so never recorded.
        guard work >= KernelTuner.minimumTunedWork else { return op.fallback }
        return recordedOrMeasured("\(op.rawValue) \(shape())", among: op.candidates, work: work, fallback: op.fallback,
                                  run: run)
    }

    /// Which of ZFlow's own algorithms computes `decision` (e.g. "conv2dAlgorithm") on `shape`,
    /// chosen by timing as backends are: recorded per machine, the winner reused. Confined work,
    /// ops under `minimumTunedWork` and forced backends take `fallback`, untimed: the algorithms'
    /// products run on the tuned backends, so a timing made on forced ones would mislead unforced
    /// runs, and a forced run computes the same on every machine.
    func algorithm<Algorithm: TunedCandidate>(for decision: String, shape: @autoclosure () -> String, work: Int,
                                              among candidates: [Algorithm], fallback: Algorithm,
                                              run: (Algorithm) -> Bool) -> Algorithm {
        let untimed = CoreConfinement.confined || KernelTuner.scopedBackend != nil || forced != nil
            || work < KernelTuner.minimumTunedWork
        let key = untimed ? nil : "\(decision) \(shape())"
        let chosen = key.map { recordedOrMeasured($0, among: candidates, work: work, fallback: fallback, run: run) } ?? fallback
        KernelTuner.decisions?.note(decision, chosen.rawValue, key: key)
        return chosen
    }

    /// The recorded winner for `key`, or (in `measure` mode) the candidates timed and the winner recorded.
    private func recordedOrMeasured<Candidate: TunedCandidate>(_ key: String, among candidates: [Candidate], work: Int,
                                                               fallback: Candidate, run: (Candidate) -> Bool) -> Candidate {
        let (recorded, mode, retime) = lock.withLock {
            (tuning.choices[key], self.mode, retimesBusyChoices && !retimed.contains(key))
        }
        // A name a file records is used only if it is one of these candidates and this process can
        // run it (a file written by another build may name others).
        func usable(_ name: String) -> Candidate? { candidates.first { $0.rawValue == name && $0.isAvailable } }
        let recordedWinner = recorded.flatMap { usable($0.winner) }
        if let recordedWinner, !(retime && recorded?.timedOnBusyMachine == true) { return recordedWinner }
        guard mode == .measure else { return recordedWinner ?? fallback }
        let choice = measure(candidates.filter { $0.isAvailable && run($0) }, work: work, fallback: fallback, run: run)
        let winner = record(choice, for: key, replacing: recorded) { usable($0) != nil }
        return usable(winner) ?? fallback
    }

    /// Records `choice` for `key` and returns the winner every later call uses. Another thread, or
    /// another process sharing the file, may have recorded the shape since `replaced` was read:
    /// then its choice wins and this one is dropped, so that neither a process nor the processes of
    /// one machine compute a shape two ways (a training run and its resume in another process give
    /// the same bits). The file is read, merged and written under an exclusive lock on a companion
    /// `.lock` file; entries of other shapes on disk are kept as they are.
    /// `usable` tells whether this process can run a recorded winner.
    private func record(_ choice: TuningFile.Choice, for key: String, replacing replaced: TuningFile.Choice?,
                        usable: (String) -> Bool) -> String {
        lock.lock()
        defer { lock.unlock() }
        if let first = tuning.choices[key], first != replaced, usable(first.winner) { return first.winner }
        retimed.insert(key)
        guard let url = fileURL else {
            tuning.choices[key] = choice
            return choice.winner
        }
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try withExclusiveLock(url.appendingPathExtension("lock")) {
                var onDisk = tuning
                onDisk.choices = [:]
                if let data = try? Data(contentsOf: url), case .success(let recorded) = TuningFile.decode(data, expecting: tuning.machine) {
                    onDisk = recorded
                }
                if let theirs = onDisk.choices[key], theirs != replaced, usable(theirs.winner) {
                    tuning.choices[key] = theirs
                    return
                }
                tuning.choices[key] = choice
                // A file that was missing or not this machine's is rebuilt from what this process knows.
                onDisk.choices = onDisk.choices.isEmpty ? tuning.choices : onDisk.choices.merging([key: choice]) { $1 }
                try onDisk.encoded().write(to: url, options: .atomic)
            }
        } catch {
            tuning.choices[key] = tuning.choices[key] ?? choice
            warnings.append("cannot write tuning file \(url.path): \(error.localizedDescription)")
        }
        return tuning.choices[key]?.winner ?? choice.winner
    }

    /// Times each available candidate: one warm-up each, then rounds that run every candidate once,
    /// keeping each one's fastest run: interleaving and the minimum keep a burst of load from another
    /// process from deciding. Three rounds (two for ops of 2^30 multiply-adds and more), then more
    /// until every candidate has run `minimumTimedSeconds` in all, up to `maximumRounds`: three runs
    /// of a 1 ms product were too few (matmul 128x2304x128 on an AMD EPYC Zen 1: oneDNN recorded as
    /// the winner, then measured at 0.6x OpenBLAS's rate for the next five minutes).
    /// How busy the machine was meanwhile is recorded with the winner (`TuningFile.Choice.othersShare`).
    private func measure<Candidate: TunedCandidate>(_ candidates: [Candidate], work: Int, fallback: Candidate,
                                                    run: (Candidate) -> Bool) -> TuningFile.Choice {
        let before = CPUTimeSnapshot.now()
        var fastest = [Double](repeating: .infinity, count: candidates.count)
        var spent = [Double](repeating: 0, count: candidates.count)
        let minimumRounds = work >= 1 << 30 ? 2 : 3
        var rounds = 0
        while rounds < minimumRounds
            || (rounds < KernelTuner.maximumRounds && (spent.min() ?? .infinity) < KernelTuner.minimumTimedSeconds) {
            for (index, candidate) in candidates.enumerated() {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = run(candidate)
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                fastest[index] = min(fastest[index], seconds)
                spent[index] += seconds
            }
            rounds += 1
        }
        var rates: [String: Double] = [:]
        for (candidate, seconds) in zip(candidates, fastest) {
            rates[candidate.rawValue] = (2 * Double(work) / max(seconds, 1e-9) / 1e9 * 10).rounded() / 10
        }
        let winner = zip(candidates, fastest).min { $0.1 < $1.1 }?.0 ?? fallback
        let othersShare = before.flatMap { start in CPUTimeSnapshot.now().flatMap { start.othersShare(until: $0) } }
        return TuningFile.Choice(winner: winner.rawValue, gflops: rates,
                                 othersShare: othersShare.map { ($0 * 100).rounded() / 100 })
    }

    /// Runs `body` holding an exclusive `flock` on `lockFile` (created if missing).
    private func withExclusiveLock(_ lockFile: URL, _ body: () throws -> Void) throws {
        let descriptor = open(lockFile.path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: lockFile.path]) }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else { throw CocoaError(.fileLocking, userInfo: [NSFilePathErrorKey: lockFile.path]) }
        }
        try body()
    }
}

/// What a tuned decision chooses between: the backends of an op (`KernelBackend`), or ZFlow's own
/// algorithms for one (`ConvAlgorithm`). Its raw value names it in the tuning file.
protocol TunedCandidate: RawRepresentable<String> {
    /// Whether this process can run it.
    var isAvailable: Bool { get }
}

extension KernelBackend: TunedCandidate {}

/// The candidates tuned decisions chose, per decision ("conv2d", "conv2dAlgorithm", ...), and the
/// tuning keys of the algorithm decisions (whose rates `zflow-bench ops` shows).
public final class KernelDecisions: @unchecked Sendable {
    private let lock = NSLock()
    private var used: [String: Set<String>] = [:]
    private var tunedKeys: [String: Set<String>] = [:]

    public init() {}

    func note(_ decision: String, _ winner: String, key: String? = nil) {
        lock.withLock {
            used[decision, default: []].insert(winner)
            if let key { tunedKeys[decision, default: []].insert(key) }
        }
    }

    /// The tuning keys under which `decision` was looked up or timed, sorted.
    public func keys(of decision: String) -> [String] { lock.withLock { tunedKeys[decision].map { $0.sorted() } ?? [] } }

    /// e.g. "onednn" or "own+onednn" for one op kind; nil if it never ran.
    public func summary(_ op: KernelOp) -> String? { summary(of: op.rawValue) }

    /// e.g. "winograd" for "conv2dAlgorithm"; nil if the decision was never made.
    public func summary(of decision: String) -> String? {
        lock.withLock { used[decision].map { $0.sorted().joined(separator: "+") } }
    }
}
