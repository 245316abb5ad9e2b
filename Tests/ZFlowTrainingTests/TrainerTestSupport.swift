import Foundation
import Testing
import ZFlowEval
import ZFlowGraph
import ZFlowIO
import ZFlowModels
import ZFlowNodes
import ZFlowTensor
import ZFlowTrain
import ZFlowTraining

extension ZNetTrainerTests {
    /// ZNet's inputs for `sample` from the bundled graph: z, text and raw SD taps, as the trainer takes them.
    static func znetInputs(_ sample: DatasetSample) async throws -> (latent: Tensor, text: Tensor, taps: [Int: Tensor]) {
        let (graph, settings, registry) = try graph()
        let outputs = try ["z", "text", "sd_taps.features"].map { try graph.output($0) }
        var parameters = settings
        parameters["image"] = .string(sample.image.path)
        parameters["prompt"] = .string(sample.phrase)
        let report = try await Engine(registry: registry, cache: .disabled).run(graph, parameters: parameters, outputs: outputs,
                                                                                options: .init(runSinks: false))
        return (try #require(report.outputs[outputs[0]] as? Tensor), try #require(report.outputs[outputs[1]] as? Tensor),
                try #require(report.outputs[outputs[2]] as? FeatureSet).taps)
    }

    /// The tiny LD-ZNet's training copy as stored, and ZNet (cross_attention) computing with it.
    static func storedZNet() throws -> (original: TensorTree, model: ZNet) {
        let original = try TensorTree(source: openTensorSource(ldznet), prefix: "model.diffusion_model.")
        let config = try LDZNetCheckpoint(url: ldznet).loadZNet(fusion: "cross_attention").znet.unet.config
        return (original, try LDZNetCheckpoint(source: original, copy: .training).loadZNet(config: config, fusion: "cross_attention").znet)
    }

    /// The contract's SGD case (lr 1, momentum 0, weight decay 0): every parameter of `original`
    /// is in `checkpoint` exactly its value minus its gradient (unchanged without one), and more
    /// than half of them moved.
    static func expectMinusGradientStep(from original: TensorTree, to checkpoint: URL, gradients: [String: Tensor],
                                        sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        let trained = try SafeTensorsFile(contentsOf: checkpoint)
        var moved = 0
        for key in original.keys {
            let before = try #require(original[key]).scalars, after = try trained.tensor(key).scalars
            let gradient = gradients[key]?.scalars ?? [Float](repeating: 0, count: before.count)
            let exact = zip(zip(before, gradient), after).allSatisfy { pair, value in pair.0 - pair.1 == value }
            #expect(exact, "\(key): the change is not minus the gradient", sourceLocation: sourceLocation)
            if zip(before, after).contains(where: { $0 != $1 }) { moved += 1 }
        }
        #expect(moved > original.count / 2, "only \(moved) of \(original.count) parameters moved", sourceLocation: sourceLocation)
    }
}
