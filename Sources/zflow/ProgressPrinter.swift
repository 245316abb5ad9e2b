import Dispatch
import Foundation
import ZFlowGraph

/// Human progress on stderr: a line when a node starts and ends, and every
/// 10 s a reminder of what is still running with its elapsed time.
final class ProgressPrinter: @unchecked Sendable {
    private let lock = NSLock()
    private var running: [Int: (name: String, type: String, start: DispatchTime)] = [:]
    private var total = 0
    private var done = 0
    private let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "zflow.progress"))

    init() {
        timer.schedule(deadline: .now() + 10, repeating: 10)
        timer.setEventHandler { [weak self] in self?.reportRunning() }
        timer.resume()
    }

    func stop() { timer.cancel() }

    func handle(_ event: RunEvent) {
        lock.withLock {
            switch event {
            case .planned(_, let toRun, let cached):
                total = toRun
                if cached > 0 { printError("\(cached) node\(cached == 1 ? "" : "s") from the cache, \(toRun) to run") }
            case .cached:
                break
            case .started(let index, let name, let type):
                running[index] = (name, type, .now())
                printError("[\(done + 1)/\(total)] \(name.hasPrefix(type) ? name : "\(name) (\(type))")...")
            case .finished(let node):
                running[node.index] = nil
                done += 1
                switch node.status {
                case .failed: printError("[\(done)/\(total)] \(node.name) failed after \(format(node.seconds))")
                case .skipped(let dependency): printError("[\(done)/\(total)] \(node.name) skipped: '\(dependency)' failed")
                default: printError("[\(done)/\(total)] \(node.name) done in \(format(node.seconds))")
                }
            case .completed:
                break
            }
        }
    }

    private func reportRunning() {
        lock.withLock {
            let now = DispatchTime.now().uptimeNanoseconds
            for (_, node) in running.sorted(by: { $0.key < $1.key }) {
                let seconds = Double(now - node.start.uptimeNanoseconds) / 1e9
                printError("  still running: \(node.name) (\(node.type)) \(format(seconds))")
            }
        }
    }
}

func format(_ seconds: Double) -> String {
    seconds < 10 ? String(format: "%.3fs", seconds) : String(format: "%.1fs", seconds)
}

/// The per-node timing and cache table printed after a run.
enum SummaryTable {
    static func render(_ report: RunReport) -> String {
        let rows = report.nodes.map { node in
            [node.name, node.typeName, node.status.label, node.status == .executed || node.status.label == "FAILED"
                ? format(node.seconds) : "-"]
        }
        let header = ["node", "type", "status", "time"]
        let widths = (0..<header.count).map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { cell, width in cell + String(repeating: " ", count: width - cell.count) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        let failed = report.failures.count
        let skipped = report.nodes.filter { if case .skipped = $0.status { true } else { false } }.count
        var lines = [line(header)] + rows.map(line)
        lines.append("\(format(report.wallSeconds)) total: \(report.executedCount) ran, \(report.cachedCount) from cache"
            + (failed > 0 ? ", \(failed) failed" : "") + (skipped > 0 ? ", \(skipped) skipped" : ""))
        return lines.joined(separator: "\n")
    }
}
