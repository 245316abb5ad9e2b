import Foundation
import ZFlowBatch
import ZFlowGraph
import ZFlowNodes
import ZFlowTensor

/// The graph run through the engine (and its memo cache) up to the trained ZNet's inputs: its
/// latent, its text and its raw SD taps. Everything there is frozen.
struct FrozenUpstream {
    let engine: Engine
    let graph: CheckedGraph
    let plan: ZNetTrainingPlan
    /// `--set` values.
    let settings: [String: Constant]
    let imageParam: String
    let phraseParam: String
    let concurrency: Int

    /// ZNet's inputs for `image` and `phrase`, with `bound` params (the augmentation's) set too,
    /// and the engine's report of each node (executed or served by the cache).
    func inputs(image: URL, phrase: String, bound: [String: Constant] = [:],
                place: String) async throws -> (inputs: TrainedZNet.Inputs, nodes: [NodeReport]) {
        var parameters = settings.merging(bound) { $1 }
        parameters[imageParam] = .string(image.path)
        parameters[phraseParam] = .string(phrase)
        let report = try await engine.run(graph, parameters: parameters, outputs: plan.frozenOutputs,
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
        let inputs = TrainedZNet.Inputs(latent: try value(plan.latent, as: Tensor.self), text: try value(plan.text, as: Tensor.self),
                                        taps: try plan.features.map { try value($0, as: FeatureSet.self).taps } ?? [:])
        return (inputs, report.nodes)
    }
}
