import Foundation

/// CPU time of the machine and of this process at one moment (Linux's /proc/stat and
/// /proc/self/stat), to tell how much of the machine other work used while the tuner timed
/// candidates: steal time counts as other work (other guests of a shared host). A winner timed
/// beside other processes may not win on a quiet machine: on an AMD EPYC Zen 1, a tuning file
/// recorded beside training runs had rates of 7-30 GFLOP/s where a quiet machine measures 40-80,
/// and another winner than the quiet file's for 71 of the 238 shapes both held (docs/benchmarks.md).
/// In a container that sees the host's /proc/stat, "the machine" is the host.
struct CPUTimeSnapshot: Equatable {
    /// Clock ticks of all CPUs: busy (user, nice, system, irq, softirq, steal), and in all.
    var machineBusy: UInt64, machineTotal: UInt64
    /// Clock ticks this process ran (user + system, all its threads).
    var process: UInt64

    static func now() -> CPUTimeSnapshot? {
        guard let machine = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let process = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8) else { return nil }
        return CPUTimeSnapshot(procStat: machine, selfStat: process)
    }

    /// From the texts of /proc/stat and /proc/self/stat; nil if either is not in the kernel's format.
    init?(procStat: String, selfStat: String) {
        // "cpu  user nice system idle iowait irq softirq steal guest guest_nice": guest time is
        // already inside user, so the first eight fields are the total.
        guard let line = procStat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return nil }
        let fields = line.split(separator: " ").dropFirst().map { UInt64($0) }
        guard fields.count >= 8, !fields[0..<8].contains(nil) else { return nil }
        let ticks = fields[0..<8].map { $0! }
        machineTotal = ticks.reduce(0, +)
        machineBusy = machineTotal - ticks[3] - ticks[4]
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are counted
        // from the last ')'; utime and stime are fields 14 and 15, the 12th and 13th after it.
        guard let close = selfStat.lastIndex(of: ")") else { return nil }
        let after = selfStat[selfStat.index(after: close)...].split(separator: " ")
        guard after.count > 12, let user = UInt64(after[11]), let system = UInt64(after[12]) else { return nil }
        process = user + system
    }

    init(machineBusy: UInt64, machineTotal: UInt64, process: UInt64) {
        (self.machineBusy, self.machineTotal, self.process) = (machineBusy, machineTotal, process)
    }

    /// Clock ticks of all CPUs a share needs: the kernel counts time in whole ticks, a little apart
    /// for the machine and for the process, so over a short window one tick counted on the other side
    /// decides the share (on an idle AMD EPYC Zen 5, candidates timed in 2 ticks recorded 50% and 100%).
    /// Over 20 ticks, one such tick moves it by 5%.
    static let minimumTicks: UInt64 = 20

    /// The share (0...1) of all CPUs' time from `self` to `later` that was busy with work other
    /// than this process's; nil when fewer than `minimumTicks` passed (too short to tell).
    func othersShare(until later: CPUTimeSnapshot) -> Double? {
        guard later.machineTotal >= machineTotal + Self.minimumTicks else { return nil }
        let others = Double(later.machineBusy &- machineBusy) - Double(later.process &- process)
        return min(1, max(0, others / Double(later.machineTotal - machineTotal)))
    }
}
