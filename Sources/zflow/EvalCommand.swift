import ArgumentParser
import Foundation
import ZFlowBatch

struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Run a graph over a dataset and score its logits with the CLIPSeg metrics.",
        discussion: """
            First checks every manifest line (each image and mask exists and its header decodes) and \
            reports all bad lines at once. Per sample, binds --image-param and --phrase-param, \
            computes --logits (sinks only with --run-sinks), resizes them bicubically to the mask, \
            applies sigmoid and counts tp/fp/fn/tn at thresholds 0.02..0.98. Writes DIR/samples.jsonl \
            as it goes (a rerun of the same run resumes; DIR is bound to the graph's text, the \
            manifest's content, the settings and the ZFlow version, and another run is refused with \
            what differs unless --overwrite), then DIR/summary.json and DIR/results.csv/json: AP, \
            IoU_FG and mIoU at 0.3, 0.5 and the best threshold. With --shard i/n only part i is \
            run; `zflow merge` combines the parts.
            """)

    @OptionGroup var options: BatchOptions

    func validate() throws {
        guard options.dataset != nil else { throw ValidationError("eval needs --dataset MANIFEST") }
    }

    func run() async throws {
        let outcome = try await options.run(grid: [])
        if let rows = outcome.rows {
            printResults(rows, axes: [])
            printError("wrote \(options.output)/summary.json (\(outcome.computed) computed, \(outcome.resumed) resumed)")
        } else {
            printError("wrote shard \(options.shard ?? "") to \(options.output); combine the shards with `zflow merge \(options.output)`")
        }
        try options.exitIfSamplesFailed(outcome)
    }
}

struct SweepCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run a graph for every combination of --grid values, sharing one memo cache.",
        discussion: """
            Each grid point is a full run: over --dataset when given, scored like `zflow eval`; \
            without a dataset, one run of the graph's sinks per point (timed, no metrics), each \
            point writing to DIR/outputs/p<N>/ (Path params that only sinks read are redirected). \
            Every grid value is checked against the ranges and choices of the arguments it feeds \
            before any point runs. \
            All points use one engine, so stages upstream of the swept params are computed once per \
            image: sweeping a ZNet option re-runs only ZNet and below; sweeping t re-runs neither \
            the VAE nor CLIP. Writes DIR/results.csv and results.json (params, metrics, time, nodes \
            run and cached per point) and prints the table.
            """)

    @OptionGroup var options: BatchOptions

    @Option(name: .customLong("grid"), help: ArgumentHelp(
        "A swept param and its values: NAME=V1,V2,...; repeatable (cartesian product).", valueName: "NAME=VALUES"))
    var grid: [String] = []

    func validate() throws {
        guard !grid.isEmpty else { throw ValidationError("sweep needs at least one --grid NAME=V1,V2,...") }
    }

    func run() async throws {
        let outcome = try await options.run(grid: grid)
        if let rows = outcome.rows {
            let description = try RunFiles.read(RunDescription.self, from: RunFiles.description(URL(fileURLWithPath: options.output)))
            printResults(rows, axes: description.axes)
            printError("wrote \(options.output)/results.csv (\(outcome.computed) computed, \(outcome.resumed) resumed)")
        } else {
            printError("wrote shard \(options.shard ?? "") to \(options.output); combine the shards with `zflow merge \(options.output)`")
        }
        try options.exitIfSamplesFailed(outcome)
    }
}

/// The evaluation commands, registered in ZFlowCommand's subcommand list.
let batchCommands: [any ParsableCommand.Type] = [EvalCommand.self, SweepCommand.self, MergeCommand.self, ReportCommand.self]
