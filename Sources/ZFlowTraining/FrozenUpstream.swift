import Foundation
import ZFlowBatch
import ZFlowGraph
import ZFlowNodes
import ZFlowTensor

/// The graph run through the engine (and its memo cache) up to the trained ZNet's inputs: its
/// latent, its text and its raw SD taps. Everything there is frozen, but for a text encoder that
/// trains: then ZNet's text is the token ids of the prompt its CLIPTextEncode node would encode
/// (the node still runs, memoized, when the SD taps read its frozen output).
struct FrozenUpstream {
    let engine: Engine
    let graph: CheckedGraph
    let plan: ZNetTrainingPlan
    /// `--set` values.
    let settings: [String: Constant]
    let imageParam: String
    let phraseParam: String
    let concurrency: Int
    /// The text encoder, when it trains.
    let text: TrainedTextSource?

    /// ZNet's inputs for `image` and `phrase`, with `bound` params (the augmentation's) set too,
    /// and the engine's report of each node (executed or served by the cache).
    func inputs(image: URL, phrase: String, bound: [String: Constant] = [:],
                place: String) async throws -> (inputs: TrainedZNet.Inputs, nodes: [NodeReport]) {
        var parameters = settings.merging(bound) { $1 }
        parameters[imageParam] = .string(image.path)
        parameters[phraseParam] = .string(phrase)
        let outputs = plan.frozenOutputs.filter { text == nil || $0 != plan.text }
        let report = try await engine.run(graph, parameters: parameters, outputs: outputs,
                                          options: Engine.RunOptions(concurrency: concurrency, runSinks: false))
        guard report.succeeded else {
            throw BatchError("\(place): " + report.failures.map(\.description).joined(separator: "\n"), isNodeFailure: true)
        }
        func value<T>(_ reference: OutputReference, as type: T.Type) throws -> T {
            guard let value = report.outputs[reference] as? T else {
                throw BatchError("\(place): \(reference) gave no \(T.self) for ZNet node '\(plan.znetName)'")
            }
            return value
        }
        let znetText: TrainedZNet.Text
        if let text {
            do { znetText = .tokens([try text.tokens(graph.parameterValues(parameters))]) } catch { throw BatchError("\(place): \(error)") }
        } else {
            znetText = .encoded(try value(plan.text, as: Tensor.self))
        }
        let inputs = TrainedZNet.Inputs(latent: try value(plan.latent, as: Tensor.self), text: znetText,
                                        taps: try plan.features.map { try value($0, as: FeatureSet.self).taps } ?? [:])
        return (inputs, report.nodes)
    }
}
