import ArgumentParser
import Foundation
import ZFlowBatch

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML page (table, SVG charts, overlays) from an eval or sweep folder.")

    @Argument(help: ArgumentHelp("An output folder of `zflow eval`, `sweep`, `merge` or `train`.", valueName: "RESULTS"))
    var folder: String

    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("The HTML file.", valueName: "FILE"))
    var output = "report.html"

    func run() async throws {
        do {
            let page = try HTMLReport.render(folder: URL(fileURLWithPath: folder))
            try page.write(toFile: output, atomically: true, encoding: .utf8)
            printError("wrote \(output)")
        } catch {
            printError("zflow: \(error)")
            throw ExitStatus.usage.exitCode
        }
    }
}
