import ArgumentParser
import Foundation
import ZFlowBatch

struct MergeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Combine the shards of an eval or sweep into the summary one run would give.",
        discussion: """
            Reads every samples*.jsonl in the folders (shards may share one folder or use one each; \
            their run.json must describe the same run, and every record must belong to it), checks \
            that each sample of each point is there exactly once, and writes summary.json and \
            results.csv/json (into the first folder unless -o). Samples that failed under \
            --keep-going are counted, not scored.
            """)

    @Argument(help: ArgumentHelp("Output folders of `zflow eval/sweep --shard`.", valueName: "DIR"))
    var folders: [String]

    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("Where to write the merged files.", valueName: "DIR"))
    var output: String?

    @Flag(help: "Summarize even when samples are missing.")
    var allowPartial = false

    func run() async throws {
        let urls = folders.map { URL(fileURLWithPath: $0) }
        let rows: [ResultRow]
        do {
            rows = try BatchResults.merge(urls, into: output.map { URL(fileURLWithPath: $0) } ?? urls[0],
                                          allowPartial: allowPartial).1
            let description = try RunFiles.read(RunDescription.self, from: RunFiles.description(urls[0]))
            printResults(rows, axes: description.axes)
        } catch {
            printError("zflow: \(error)")
            throw ExitStatus.usage.exitCode
        }
        // As eval --keep-going does: results with failed samples exit 1.
        let failed = rows.reduce(0) { $0 + $1.failed }
        if failed > 0 {
            printError("zflow: \(failed) sample\(failed == 1 ? "" : "s") failed in the shards (left out of the metrics)")
            throw ExitStatus.nodeFailed.exitCode
        }
    }
}
