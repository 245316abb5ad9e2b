// `zflow-bench splits`: what one split of work between the cores costs, on ZFlow's WorkerPool
// (`parallelRanges`) and on Dispatch's `concurrentPerform`, in alternating rounds.
import Dispatch
import Foundation
import ZFlowTensor

let splitsUsage = """
    usage: zflow-bench splits [--rounds N] [--splits N]
      Splits into one part per core, each part busy for 0, 2, 20 or 200 us, back to back:
      the median time per split on WorkerPool and on Dispatch, N rounds (default 5) alternating,
      each round --splits splits (default 2000) per part length and side.
    """

private struct SplitsUsageError: BenchmarkUsageError, CustomStringConvertible {
    var description: String { splitsUsage }
}

func runSplitsBenchmark(_ arguments: [String]) throws {
    var rounds = 5, splits = 2000
    var rest = arguments[...]
    while let flag = rest.popFirst() {
        switch flag {
        case "--rounds": rounds = try positive(rest.popFirst())
        case "--splits": splits = try positive(rest.popFirst())
        default: throw SplitsUsageError()
        }
    }
    let cores = ProcessInfo.processInfo.activeProcessorCount
    emit("CPU: \(MachineKey.current.summary)")
    emit("\(cores) parts per split, \(splits) splits per part length, side and round; median of \(rounds) rounds")
    emit("part busy us   WorkerPool us/split   Dispatch us/split   Dispatch / WorkerPool")
    for partMicroseconds in [0, 2, 20, 200] {
        var pool: [Double] = [], dispatch: [Double] = []
        let busy = UInt64(partMicroseconds) * 1000
        for _ in 0..<rounds {
            pool.append(wallSeconds {
                for _ in 0..<splits { parallelRanges(cores, minimumWork: 1) { _ in spin(busy) } }
            } / Double(splits) * 1e6)
            dispatch.append(wallSeconds {
                for _ in 0..<splits { DispatchQueue.concurrentPerform(iterations: cores) { _ in spin(busy) } }
            } / Double(splits) * 1e6)
        }
        emit(String(format: "%11d   %19.1f   %17.1f   %20.2f", partMicroseconds, median(pool), median(dispatch),
                    median(dispatch) / median(pool)))
    }
}

private func positive(_ text: String?) throws -> Int {
    guard let value = text.flatMap(Int.init), value > 0 else { throw SplitsUsageError() }
    return value
}

/// Keeps the calling thread busy for `nanoseconds` of wall time.
private func spin(_ nanoseconds: UInt64) {
    let start = DispatchTime.now().uptimeNanoseconds
    while DispatchTime.now().uptimeNanoseconds - start < nanoseconds {}
}
