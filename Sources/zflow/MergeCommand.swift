import ArgumentParser
import Foundation
import ZFlowBatch

struct MergeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Combine the shards of an eval or sweep into the summary one run would give.",
        discussion: """
            Reads every samples*.jsonl in the folders (shards may share one folder or use one each;
            their run.json must agree), checks that each sample of each point is there exactly once,
            and writes summary.json and results.csv/json (into the first folder unless -o).
            """)

    @Argument(help: ArgumentHelp("Output folders of `zflow eval/sweep --shard`.", valueName: "DIR"))
    var folders: [String]

    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("Where to write the merged files.", valueName: "DIR"))
    var output: String?

    @Flag(help: "Summarize even when samples are missing.")
    var allowPartial = false

    func run() async throws {
        let urls = folders.map { URL(fileURLWithPath: $0) }
        do {
            let (_, rows) = try BatchResults.merge(urls, into: output.map { URL(fileURLWithPath: $0) } ?? urls[0],
                                                   allowPartial: allowPartial)
            let description = try RunFiles.read(RunDescription.self, from: RunFiles.description(urls[0]))
            printResults(rows, axes: description.axes)
        } catch {
            printError("zflow: \(error)")
            throw ExitStatus.usage.exitCode
        }
    }
}
