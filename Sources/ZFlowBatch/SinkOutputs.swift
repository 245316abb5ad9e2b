import Foundation
import ZFlowEval
import ZFlowGraph

// Where the graph's sinks write in a batch, so that no two runs write the same file. A `Path`
// param that only sinks read names an output: in a batch its value becomes
// DIR/outputs/p<POINT>/<FILE NAME> (DIR/outputs/p<POINT>/<SAMPLE ID>/<FILE NAME> with a dataset).
// A sink whose output path is a constant of the graph could not be redirected, so a batch of
// more than one run refuses it before any work.

struct SinkOutputs {
    /// Output param name -> the file name its value ends in.
    private let fileNames: [String: String]
    private let folder: URL

    init(_ config: BatchConfiguration, runs: Int) throws {
        let graph = config.graph
        var readers: [String: [Int]] = [:]
        for node in graph.nodes {
            for case .param(let name) in node.inputs.values { readers[name, default: []].append(node.index) }
        }
        var fileNames: [String: String] = [:]
        for index in graph.sinks {
            let node = graph.nodes[index]
            for input in node.schema.inputs where input.type == .path {
                switch node.inputs[input.name] {
                case .param(let name)?:
                    let bound = [config.imageParam, config.phraseParam].contains(name) && config.dataset != nil
                    guard !bound, !config.grid.axes.contains(where: { $0.name == name }),
                          readers[name, default: []].allSatisfy({ graph.nodes[$0].isSink }),
                          case .string(let path)? = config.settings[name] ?? graph.param(named: name)?.defaultValue
                    else { continue }
                    fileNames[name] = URL(fileURLWithPath: path).lastPathComponent
                case .constant(let value)? where runs > 1:
                    throw BatchError("\(graph.source.name):\(node.range.start.line): \(node.displayName) writes every "
                        + "run to the same file \(value) (argument '\(input.name)' is a constant): make it a param "
                        + "(param out: Path = \(value), then \(input.name): out) so that each run gets its own folder "
                        + "under \(RunFiles.outputs(config.output).path)")
                default: continue
                }
            }
        }
        let byFileName = Dictionary(grouping: fileNames.keys.sorted()) { fileNames[$0]! }
        if let (name, params) = byFileName.first(where: { $0.value.count > 1 }) {
            throw BatchError("output params \(params.joined(separator: " and ")) both name a file '\(name)': "
                + "give them different file names (each run writes its outputs to one folder)")
        }
        self.fileNames = fileNames
        folder = RunFiles.outputs(config.output)
    }

    /// The output params' values for one run, in their own folder (created).
    func parameters(point: Int, sample: DatasetSample?) throws -> [String: Constant] {
        guard !fileNames.isEmpty else { return [:] }
        var runFolder = folder.appendingPathComponent("p\(point)")
        if let sample { runFolder.appendPathComponent(RunFiles.safeName(sample.id)) }
        try FileManager.default.createDirectory(at: runFolder, withIntermediateDirectories: true)
        return fileNames.mapValues { .string(runFolder.appendingPathComponent($0).path) }
    }
}
