import Foundation
import Dispatch

// Runs the nodes of a plan on Dispatch: a node starts when the nodes it reads
// are done; at most `concurrency` run at once and at most one heavy node. All
// bookkeeping happens on one serial queue; node work on a concurrent queue.
// A node's values are released when its last reader is done, unless the caller
// asked for them (`retained`): a run holds only what is still to be read.

final class Scheduler: @unchecked Sendable {
    struct Completion {
        var statuses: [Int: NodeStatus] = [:]
        var seconds: [Int: Double] = [:]
        var outputs: [Int: [String: any Sendable]] = [:]
    }

    private let graph: CheckedGraph
    private let parameters: [String: Constant]
    /// The outputs each node must produce (see `OutputSpec.isOnDemand`).
    private let produced: [Int: [OutputSpec]]
    /// The nodes whose values the run returns (kept after their last reader).
    private let retained: Set<Int>
    private let concurrency: Int
    /// Called on the worker after a node succeeds (to fill the caches).
    private let didExecute: @Sendable (Int, [String: any Sendable], Double) -> Void
    private let onEvent: @Sendable (RunEvent) -> Void
    private let nodeReport: @Sendable (Int, NodeStatus, Double) -> NodeReport

    private let coordinator = DispatchQueue(label: "zflow.scheduler")
    private let workers = DispatchQueue(label: "zflow.workers", attributes: .concurrent)

    // State below is only touched on `coordinator`.
    private var result = Completion()
    private var waitingOn: [Int: Int] = [:]
    private var dependents: [Int: [Int]] = [:]
    /// Per node, how many of the nodes to run read it and are not done yet.
    private var unreadBy: [Int: Int] = [:]
    private var ready: [Int] = []
    private var running = 0
    private var heavyRunning = false
    private var unfinished: Set<Int> = []
    private var continuation: CheckedContinuation<Completion, Never>?

    init(graph: CheckedGraph, parameters: [String: Constant], produced: [Int: [OutputSpec]], retained: Set<Int>,
         concurrency: Int,
         didExecute: @escaping @Sendable (Int, [String: any Sendable], Double) -> Void,
         nodeReport: @escaping @Sendable (Int, NodeStatus, Double) -> NodeReport,
         onEvent: @escaping @Sendable (RunEvent) -> Void) {
        self.graph = graph
        self.parameters = parameters
        self.produced = produced
        self.retained = retained
        self.concurrency = max(1, concurrency)
        self.didExecute = didExecute
        self.nodeReport = nodeReport
        self.onEvent = onEvent
    }

    /// Executes `nodes`, reading the outputs of other nodes from `available`.
    func run(_ nodes: Set<Int>, available: [Int: [String: any Sendable]]) async -> Completion {
        await withCheckedContinuation { continuation in
            coordinator.async {
                self.continuation = continuation
                self.unfinished = nodes
                for node in nodes {
                    let dependencies = self.graph.nodes[node].dependencies
                    for dependency in dependencies { self.unreadBy[dependency, default: 0] += 1 }
                    let pending = dependencies.filter(nodes.contains)
                    self.waitingOn[node] = pending.count
                    for dependency in pending { self.dependents[dependency, default: []].append(node) }
                    if pending.isEmpty { self.ready.append(node) }
                }
                for (node, outputs) in available { self.keep(outputs, of: node) }
                self.ready.sort()
                self.launchReadyNodes()
                self.finishIfDone()
            }
        }
    }

    private func launchReadyNodes() {
        while running < concurrency {
            guard let position = ready.firstIndex(where: { !(heavyRunning && graph.nodes[$0].schema.isHeavy) }) else { return }
            let index = ready.remove(at: position)
            let node = graph.nodes[index]
            running += 1
            if node.schema.isHeavy { heavyRunning = true }
            let inputs = NodeInputs(nodeName: node.displayName, values: inputValues(node),
                                    requestedOutputs: Set((produced[index] ?? node.schema.outputs).map(\.name)))
            onEvent(.started(index: index, name: node.displayName, typeName: node.schema.name))
            workers.async { self.execute(node, inputs) }
        }
    }

    private func inputValues(_ node: GraphNode) -> [String: any Sendable] {
        var values: [String: any Sendable] = [:]
        for input in node.schema.inputs {
            switch node.inputs[input.name] {
            case .constant(let constant)?:
                values[input.name] = constant.swiftValue
            case .param(let name)?:
                if let value = parameters[name] { values[input.name] = (value.converted(to: input.type) ?? value).swiftValue }
            case .output(let source, let port)?:
                if let value = result.outputs[source]?[port] { values[input.name] = value }
            case nil:
                break
            }
        }
        return values
    }

    private func execute(_ node: GraphNode, _ inputs: NodeInputs) {
        let start = DispatchTime.now()
        let outcome: Result<[String: any Sendable], Error>
        do {
            let outputs = try node.nodeType.execute(inputs).values
            if let missing = (produced[node.index] ?? node.schema.outputs).first(where: { outputs[$0.name] == nil }) {
                throw NodeError("it did not produce its output '\(missing.name)'")
            }
            outcome = .success(outputs)
        } catch {
            outcome = .failure(error)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        if case .success(let outputs) = outcome { didExecute(node.index, outputs, seconds) }
        coordinator.async { self.complete(node, outcome, seconds) }
    }

    private func complete(_ node: GraphNode, _ outcome: Result<[String: any Sendable], Error>, _ seconds: Double) {
        running -= 1
        if node.schema.isHeavy { heavyRunning = false }
        unfinished.remove(node.index)
        result.seconds[node.index] = seconds
        doneReading(node.index)
        switch outcome {
        case .success(let outputs):
            keep(outputs, of: node.index)
            finish(node.index, .executed, seconds)
            for dependent in dependents[node.index] ?? [] where unfinished.contains(dependent) {
                waitingOn[dependent, default: 1] -= 1
                if waitingOn[dependent] == 0 {
                    ready.insert(dependent, at: ready.firstIndex { $0 > dependent } ?? ready.endIndex)
                }
            }
        case .failure(let error):
            finish(node.index, .failed(String(describing: error)), seconds)
            skipDependents(of: node)
        }
        launchReadyNodes()
        finishIfDone()
    }

    /// Marks everything downstream of a failed node as skipped; independent work continues.
    private func skipDependents(of failed: GraphNode) {
        var work = dependents[failed.index] ?? []
        while let index = work.popLast() {
            guard unfinished.remove(index) != nil else { continue }
            ready.removeAll { $0 == index }
            doneReading(index)
            finish(index, .skipped(dependency: failed.displayName), 0)
            work.append(contentsOf: dependents[index] ?? [])
        }
    }

    /// Holds a node's values while a reader is still to run, or when the caller asked for them.
    private func keep(_ outputs: [String: any Sendable], of index: Int) {
        if unreadBy[index, default: 0] > 0 || retained.contains(index) { result.outputs[index] = outputs }
    }

    /// A node finished (or will never run): the nodes it reads have one reader less.
    private func doneReading(_ index: Int) {
        for source in graph.nodes[index].dependencies {
            unreadBy[source, default: 1] -= 1
            if unreadBy[source] == 0 && !retained.contains(source) { result.outputs[source] = nil }
        }
    }

    private func finish(_ index: Int, _ status: NodeStatus, _ seconds: Double) {
        result.statuses[index] = status
        onEvent(.finished(nodeReport(index, status, seconds)))
    }

    private func finishIfDone() {
        guard unfinished.isEmpty, running == 0, let continuation else { return }
        self.continuation = nil
        continuation.resume(returning: result)
    }
}
