import Foundation
import ZFlowTensor

/// Wall time of one call of `body`, in seconds.
func wallSeconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// Deterministic values in [-1, 1) for benchmark inputs (the values do not matter, only that they are finite).
func benchmarkTensor(_ shape: [Int], seed: UInt64) -> Tensor {
    let tensor = Tensor(uninitialized: shape)
    var state = seed &* 6364136223846793005 &+ 1442695040888963407
    let values = tensor.mutablePointer
    for index in 0..<tensor.count {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        values[index] = Float(state >> 40) / Float(1 << 23) - 1
    }
    return tensor
}

/// Writes a line to standard output at once (unbuffered, so results show while the run goes on).
func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// The process's peak resident set so far (getrusage's ru_maxrss: kilobytes on Linux).
func peakResidentKilobytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss
}
