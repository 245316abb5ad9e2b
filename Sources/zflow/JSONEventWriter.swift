import Foundation
import ZFlowGraph

/// `--events json`: one JSON object per line on stdout, in event order.
/// Every object has "event"; node events have "node", "type", "line" and, when
/// done, "status" (ran, memory, disk, FAILED, skipped), "seconds", "key", "error".
final class JSONEventWriter: Sendable {
    func write(_ event: RunEvent) {
        var object: [String: Any]
        switch event {
        case .planned(let needed, let toRun, let cached):
            object = ["event": "planned", "needed": needed, "to_run": toRun, "cached": cached]
        case .cached(let node):
            object = nodeObject("cached", node)
        case .started(_, let name, let type):
            object = ["event": "started", "node": name, "type": type]
        case .finished(let node):
            object = nodeObject("finished", node)
        case .completed(let report):
            object = ["event": "completed", "seconds": report.wallSeconds, "ran": report.executedCount,
                      "cached": report.cachedCount, "failed": report.failures.count]
        }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }

    private func nodeObject(_ name: String, _ node: NodeReport) -> [String: Any] {
        var object: [String: Any] = ["event": name, "node": node.name, "type": node.typeName,
                                     "line": node.range.start.line, "status": node.status.label,
                                     "seconds": node.seconds]
        if let key = node.key { object["key"] = key }
        if let explanation = node.explanation { object["cache"] = explanation }
        switch node.status {
        case .failed(let message): object["error"] = message
        case .skipped(let dependency): object["failed_dependency"] = dependency
        default: break
        }
        return object
    }
}
