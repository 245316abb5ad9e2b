import Foundation
import Testing
@testable import ZFlowGraph

/// Records which nodes executed, in order, from any thread.
final class Recorder: @unchecked Sendable {
    private let lock = NSLock()
    private var names: [String] = []
    private var sinkValues: [String: Int] = [:]

    func record(_ name: String) { lock.withLock { names.append(name) } }
    func recordSink(_ name: String, _ value: Int) { lock.withLock { sinkValues[name] = value } }
    var executed: [String] { lock.withLock { names } }
    var executedSet: Set<String> { Set(executed) }
    var sinks: [String: Int] { lock.withLock { sinkValues } }
    func reset() { lock.withLock { names = []; sinkValues = [:] } }
}

/// A latch that lets `parties` callers through only once all of them arrived.
final class Latch: @unchecked Sendable {
    private let condition = NSCondition()
    private var arrived = 0
    let parties: Int

    init(parties: Int) { self.parties = parties }

    /// False when the others did not arrive within `timeout` seconds.
    func arriveAndWait(timeout: Double) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        arrived += 1
        condition.broadcast()
        let deadline = Date().addingTimeInterval(timeout)
        while arrived < parties {
            if !condition.wait(until: deadline) { return arrived >= parties }
        }
        return true
    }
}

/// Tracks how many heavy nodes run at the same time.
final class OverlapCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var current = 0
    private(set) var maximum = 0

    func enter() { lock.withLock { current += 1; maximum = max(maximum, current) } }
    func leave() { lock.withLock { current -= 1 } }
    var peak: Int { lock.withLock { maximum } }
}

/// An opaque value standing in for an image tensor.
struct FakeImage: Sendable, Equatable { var pixels: [Int] }

/// A registry of small stub nodes that record their executions.
func stubRegistry(_ recorder: Recorder, latch: Latch? = nil, latchTimeout: Double = 10,
                  heavy: OverlapCounter? = nil) throws -> NodeRegistry {
    let registry = NodeRegistry()
    func node(_ schema: NodeSchema, _ body: @escaping @Sendable (NodeInputs) throws -> NodeOutputs) throws {
        try registry.register(ClosureNode(schema) { inputs in
            recorder.record(inputs.nodeName)
            return try body(inputs)
        })
    }
    try node(NodeSchema(name: "Const", doc: "Outputs its value.",
                        inputs: [InputSpec("value", .int, doc: "The value.")],
                        outputs: [OutputSpec("out", .int, doc: "The value.")])) { inputs in
        NodeOutputs(["out": try inputs.int("value")])
    }
    try node(NodeSchema(name: "Add", doc: "Adds two integers.",
                        inputs: [InputSpec("a", .int, doc: "First term."), InputSpec("b", .int, default: .int(0), doc: "Second term.")],
                        outputs: [OutputSpec("sum", .int, doc: "a + b.")])) { inputs in
        NodeOutputs(["sum": try inputs.int("a") + inputs.int("b")])
    }
    try node(NodeSchema(name: "Scale", doc: "Multiplies by a factor.", version: 3,
                        inputs: [InputSpec("x", .int, doc: "The value."),
                                 InputSpec("factor", .int, default: .int(2), range: 0...100, doc: "The factor.")],
                        outputs: [OutputSpec("out", .int, doc: "x * factor.")])) { inputs in
        NodeOutputs(["out": try inputs.int("x") * inputs.int("factor")])
    }
    try node(NodeSchema(name: "Split", doc: "Splits a value in two.",
                        inputs: [InputSpec("x", .int, doc: "The value.")],
                        outputs: [OutputSpec("left", .int, doc: "x / 2."), OutputSpec("right", .int, doc: "x - x / 2.")])) { inputs in
        let x = try inputs.int("x")
        return NodeOutputs(["left": x / 2, "right": x - x / 2])
    }
    try node(NodeSchema(name: "Weigh", doc: "Scales by a float weight.",
                        inputs: [InputSpec("x", .int, doc: "The value."), InputSpec("weight", .float, default: .float(1), doc: "The weight."),
                                 InputSpec("mode", .string, default: .string("round"),
                                           choices: [.string("round"), .string("floor")], doc: "Rounding."),
                                 InputSpec("bias", .int, optional: true, doc: "Added when given.")],
                        outputs: [OutputSpec("out", .int, doc: "The weighted value.")])) { inputs in
        let product = Double(try inputs.int("x")) * (try inputs.float("weight"))
        let rounded = try inputs.string("mode") == "floor" ? product.rounded(.down) : product.rounded()
        return NodeOutputs(["out": Int(rounded) + ((inputs.optional("bias") as? Int) ?? 0)])
    }
    try node(NodeSchema(name: "Fail", doc: "Always throws.",
                        inputs: [InputSpec("x", .int, doc: "Ignored.")],
                        outputs: [OutputSpec("out", .int, doc: "Never produced.")])) { _ in
        throw NodeError("stub failure")
    }
    try node(NodeSchema(name: "Wait", doc: "Waits for the other Wait nodes (a latch).",
                        inputs: [InputSpec("x", .int, doc: "Passed through.")],
                        outputs: [OutputSpec("out", .int, doc: "x.")])) { inputs in
        guard latch?.arriveAndWait(timeout: latchTimeout) ?? true else {
            throw NodeError("the other branch never ran at the same time")
        }
        return NodeOutputs(["out": try inputs.int("x")])
    }
    try node(NodeSchema(name: "Heavy", doc: "A BLAS-bound stand-in.",
                        inputs: [InputSpec("x", .int, doc: "Passed through.")],
                        outputs: [OutputSpec("out", .int, doc: "x.")], isHeavy: true)) { inputs in
        heavy?.enter()
        Thread.sleep(forTimeInterval: 0.02)
        heavy?.leave()
        return NodeOutputs(["out": try inputs.int("x")])
    }
    try node(NodeSchema(name: "ReadSize", doc: "The byte count of a file.",
                        inputs: [InputSpec("path", .path, doc: "The file.")],
                        outputs: [OutputSpec("bytes", .int, doc: "Its size.")])) { inputs in
        let data = try Data(contentsOf: URL(fileURLWithPath: try inputs.path("path")))
        return NodeOutputs(["bytes": data.count])
    }
    try node(NodeSchema(name: "Sum", doc: "Sums a list.",
                        inputs: [InputSpec("values", .list(.int), doc: "The terms.")],
                        outputs: [OutputSpec("out", .int, doc: "The sum.")])) { inputs in
        NodeOutputs(["out": (try inputs.value("values") as [Int]).reduce(0, +)])
    }
    try node(NodeSchema(name: "MakeImage", doc: "A fake image.",
                        inputs: [InputSpec("size", .int, default: .int(2), range: 1...64, doc: "Pixels.")],
                        outputs: [OutputSpec("image", .image, doc: "The image.")])) { inputs in
        NodeOutputs(["image": FakeImage(pixels: Array(0..<(try inputs.int("size"))))])
    }
    try node(NodeSchema(name: "Count", doc: "Counts the elements of any tensor.",
                        inputs: [InputSpec("value", .tensor, doc: "A tensor-like value.")],
                        outputs: [OutputSpec("out", .int, doc: "The element count.")])) { inputs in
        NodeOutputs(["out": (try inputs.value("value") as FakeImage).pixels.count])
    }
    try node(NodeSchema(name: "Tag", doc: "Passes an image on as the tensor type 'as' names.",
                        inputs: [InputSpec("value", .image, doc: "The image."),
                                 InputSpec("as", .string, default: .string("Tensor"),
                                           choices: ["Tensor", "Latent", "Mask"].map(Constant.string), doc: "The output's type.")],
                        outputs: [OutputSpec("out", .tensor, typeFrom: "as", doc: "The image.")])) { inputs in
        recorder.record("\(inputs.nodeName) as \(try inputs.string("as"))")
        return NodeOutputs(["out": try inputs.value("value") as FakeImage])
    }
    try node(NodeSchema(name: "Probe", doc: "A value, and an expensive extra only when read.",
                        inputs: [InputSpec("x", .int, doc: "The value.")],
                        outputs: [OutputSpec("out", .int, doc: "x."),
                                  OutputSpec("extra", .int, onDemand: true, doc: "x * 100, on demand.")])) { inputs in
        var outputs = NodeOutputs(["out": try inputs.int("x")])
        if inputs.requestedOutputs.contains("extra") {
            recorder.record("\(inputs.nodeName).extra")
            outputs["extra"] = try inputs.int("x") * 100
        }
        return outputs
    }
    try node(NodeSchema(name: "Print", doc: "Records a value (a side effect).",
                        inputs: [InputSpec("value", .int, doc: "The value.")],
                        outputs: [], isCacheable: false)) { inputs in
        recorder.recordSink(inputs.nodeName, try inputs.int("value"))
        return NodeOutputs()
    }
    return registry
}

func check(_ text: String, _ registry: NodeRegistry, name: String = "test.zflow") throws -> CheckedGraph {
    try Checker.check(SourceFile(name: name, text: text), registry: registry)
}

func temporaryDirectory() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("zflow-tests-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
