// zflow-bench: performance measurements, one suite per first argument.
// Suites live in their own files; each is a function taking the remaining arguments.
import Foundation

let suites: [String: ([String]) throws -> Void] = [
    "ops": runOpsBenchmark,
    "models": runModelsBenchmark,
    "clip": runCLIPBenchmark,
    "pipeline": runPipelineBenchmark,
    "train-step": runTrainStepBenchmark,
]

/// A suite's error for arguments it cannot run with: exit 2, as docs/cli.md's usage errors.
protocol BenchmarkUsageError: Error {}

let arguments = Array(CommandLine.arguments.dropFirst())
guard let name = arguments.first, let suite = suites[name] else {
    FileHandle.standardError.write(Data("usage: zflow-bench <\(suites.keys.sorted().joined(separator: "|"))> [options]\n".utf8))
    exit(2)
}
do {
    try suite(Array(arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("zflow-bench \(name): \(error)\n".utf8))
    exit(error is BenchmarkUsageError ? 2 : 1)
}
