import Foundation
import ZFlowGraph

/// A sink writing a score list as text, one number per line.
struct WriteScores: NodeType {
    let schema = NodeSchema(
        name: "WriteScores",
        doc: "Writes a score list to a text file, one number per line.",
        inputs: [
            InputSpec("scores", .list(.float), doc: "The scores to write."),
            InputSpec("path", .path, doc: "The text file to create (its folder must exist)."),
        ],
        outputs: [],
        isCacheable: false)

    func execute(_ inputs: NodeInputs) throws -> NodeOutputs {
        let scores: [Double] = try inputs.value("scores")
        let path = try inputs.path("path")
        let text = scores.map { String($0) }.joined(separator: "\n") + "\n"
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw NodeError("cannot write \(path): \(error.localizedDescription)")
        }
        return NodeOutputs()
    }
}
