// zflow-bench: performance measurements, one suite per first argument.
// Suites live in their own files; each is a function taking the remaining arguments.
import Foundation

/// A suite: its usage text (printed by `zflow-bench SUITE --help`) and its run.
struct BenchmarkSuite {
    let usage: String
    let run: ([String]) throws -> Void
}

let suites: [String: BenchmarkSuite] = [
    "ops": BenchmarkSuite(usage: opsUsage, run: runOpsBenchmark),
    "models": BenchmarkSuite(usage: modelsUsage, run: runModelsBenchmark),
    "clip": BenchmarkSuite(usage: CLIPBenchmarkUsage().description, run: runCLIPBenchmark),
    "pipeline": BenchmarkSuite(usage: PipelineUsageError().description, run: runPipelineBenchmark),
    "train-step": BenchmarkSuite(usage: trainStepUsage, run: runTrainStepBenchmark),
    "splits": BenchmarkSuite(usage: splitsUsage, run: runSplitsBenchmark),
]

/// A suite's error for arguments it cannot run with: exit 2, as docs/cli.md's usage errors.
protocol BenchmarkUsageError: Error {}

let helpFlags: Set<String> = ["-h", "--help"]
let toolUsage = "usage: zflow-bench <\(suites.keys.sorted().joined(separator: "|"))> [options]  (SUITE --help: its options)\n"
let arguments = Array(CommandLine.arguments.dropFirst())
if let first = arguments.first, helpFlags.contains(first) {
    print(toolUsage, terminator: "")
    exit(0)
}
guard let name = arguments.first, let suite = suites[name] else {
    FileHandle.standardError.write(Data(toolUsage.utf8))
    exit(2)
}
if arguments.dropFirst().contains(where: helpFlags.contains) {
    print(suite.usage)
    exit(0)
}
do {
    try suite.run(Array(arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("zflow-bench \(name): \(error)\n".utf8))
    exit(error is BenchmarkUsageError ? 2 : 1)
}
