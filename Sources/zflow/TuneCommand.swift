import ArgumentParser
import Foundation
import ZFlowGraph
import ZFlowTensor

/// `zflow tune GRAPH...`: times every kernel candidate on every op shape the graphs use, ahead of
/// the first real run, and records the winners in this machine's tuning file.
struct TuneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Choose the fastest kernels for this machine by running graphs once, and record them.",
        discussion: """
            Every GEMM, convolution and transposed convolution shape the graphs run is timed on \
            each available backend (ZFlow's own kernels, OpenBLAS, oneDNN), and 3x3 stride-1 \
            convolutions with at least 16 x 16 outputs on ZFlow's own algorithms (Winograd, im2col), \
            unless this machine's \
            tuning file already has it; the winners are recorded in the file, which later runs \
            read. A recorded choice that was timed while other work used more than a quarter of \
            the machine (steal time of a shared host included) is timed again: run tune when the \
            machine is quiet. The file is keyed by the CPU model, its flags, the core count and the library \
            versions: another machine tunes again. The choices are printed on stdout, \
            with those of convolution gradients that training recorded (graphs compute \
            no gradients, so tune does not time them). \
            Files: the graphs and whatever their nodes read (weights, images). \
            Environment: ZFLOW_TUNING_FILE names the file (default \
            $XDG_CACHE_HOME/zflow/tuning/tuning-<machine>.json); ZFLOW_BACKEND=own|openblas|onednn \
            forces one backend everywhere instead.
            """)

    @Argument(help: ArgumentHelp("The .zflow graphs whose ops to tune.", valueName: "FILE"))
    var files: [String] = []

    @Option(name: .customLong("set"), help: ArgumentHelp(
        "Override a param (every graph must have it): NAME=VALUE; repeatable.", valueName: "NAME=VALUE"))
    var settings: [String] = []

    @Flag(help: "Forget the recorded choices first and time every shape again.")
    var reset = false

    @OptionGroup var plugins: PluginOptions

    func run() async throws {
        let tuner = KernelTuner.shared
        for warning in tuner.warnings { printError("zflow: warning: \(warning)") }
        if let forced = tuner.forced {
            printError("zflow: ZFLOW_BACKEND=\(forced.rawValue) forces one backend: nothing to tune")
            throw ExitStatus.usage.exitCode
        }
        tuner.setMode(.measure)
        tuner.setRetimesBusyChoices(true)
        if reset { try tuner.reset() }
        let registry = try plugins.makeRegistry()
        for file in files {
            let graph = try loadGraph(file, registry: registry)
            let parameters = try parameterSettings(settings, graph: graph)
            printError("tuning \(file) on \(MachineKey.current.summary) ...")
            let report = try await Engine(registry: registry, cache: .disabled).run(graph, parameters: parameters)
            for failure in report.failures { printError(failure.description) }
            if !report.succeeded { throw ExitStatus.nodeFailed.exitCode }
        }
        print("# \(MachineKey.current.summary); tuning file \(tuner.file?.path ?? "(none)")")
        let choices = tuner.choices.sorted(by: { $0.key < $1.key })
        for (key, choice) in choices {
            let rates = choice.gflops.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            let busy = choice.timedOnBusyMachine ? "; timed while other work used \(percent(choice.othersShare)) of the machine" : ""
            print("\(key): \(choice.winner)  (GFLOP/s: \(rates))\(busy)")
        }
        let busy = choices.filter { $0.value.timedOnBusyMachine }.count
        if busy > 0 {
            printError("zflow: warning: \(busy) of the \(choices.count) recorded choices were timed while other work used "
                + "more than \(percent(TuningFile.Choice.busyShare)) of the machine; tune times again those of the graphs "
                + "it runs: run it when the machine is quiet")
        }
    }
}

private func percent(_ share: Double?) -> String { "\(Int(((share ?? 0) * 100).rounded()))%" }
