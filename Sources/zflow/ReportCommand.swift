import ArgumentParser
import Foundation
import ZFlowBatch
import ZFlowProbe

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML page (table, SVG charts, overlays) from an eval, sweep, probe, train or training-grid folder.",
        discussion: "On a `zflow train --grid` folder the table of variants (mean ± sample std over seeds) also goes to stdout.")

    @Argument(help: ArgumentHelp("An output folder of `zflow eval`, `sweep`, `merge`, `probe` or `train`.", valueName: "RESULTS"))
    var folder: String

    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("The HTML file.", valueName: "FILE"))
    var output = "report.html"

    func run() async throws {
        do {
            if TrainingGridFiles.isGrid(URL(fileURLWithPath: folder)) {
                let table = try TrainingGridTable.load(URL(fileURLWithPath: folder))
                for warning in table.warnings { printError("warning: \(warning)") }
                print(table.text, terminator: "")
                let page = try TrainingGridReport.render(folder: URL(fileURLWithPath: folder), table: table)
                try page.write(toFile: output, atomically: true, encoding: .utf8)
                printError("wrote \(output)")
                return
            }
            if ProbeReport.isProbeRun(URL(fileURLWithPath: folder)) {
                try ProbeReport.write(URL(fileURLWithPath: folder), page: URL(fileURLWithPath: output))
                printError("wrote \(output) and \(ProbeReport.heatmapFile(URL(fileURLWithPath: folder)).relativePath)")
                return
            }
            let page = try HTMLReport.render(folder: URL(fileURLWithPath: folder))
            try page.write(toFile: output, atomically: true, encoding: .utf8)
            printError("wrote \(output)")
        } catch {
            printError("zflow: \(error)")
            throw ExitStatus.usage.exitCode
        }
    }
}
