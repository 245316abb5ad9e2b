import ZFlowBatch
import ZFlowGraph
import ZFlowNodes

/// What `zflow train` takes from a graph: the ZNet node that produces `--logits`, the graph
/// outputs that feed it (run through the engine, frozen and memoized per sample), its weights
/// file and its fusion. When ZNet's features come from an AttentionPool node, the pool's raw
/// input is fed instead and the pools run inside ZNet's training forward (they train too), so
/// the pool must read the same weights file as ZNet.
public struct ZNetTrainingPlan: Sendable {
    public let znetName: String
    public let latent: OutputReference
    public let text: OutputReference
    /// Raw SD taps, or nil for a ZNet without features (fusion "none").
    public let features: OutputReference?
    public let weights: String
    public let fusion: String
    /// The `weights` of the UNetFeatures node that makes the taps (or, without taps, of the
    /// VAEEncode node that makes the latent): the SD weights `--init sd` starts ZNet from.
    public let stableDiffusionWeights: String?

    /// The frozen outputs a training step reads.
    public var frozenOutputs: [OutputReference] { [latent, text] + (features.map { [$0] } ?? []) }

    /// `values`: every param's value for this run (defaults with `--set` applied).
    public init(graph: CheckedGraph, logits: String, values: [String: Constant]) throws {
        let reference: OutputReference
        do { reference = try graph.output(logits) } catch { throw BatchError("--logits \(logits): \(error)") }
        let znet = graph.nodes[reference.node]
        guard znet.schema.name == "ZNet" else {
            throw BatchError("--logits \(logits): node '\(znet.displayName)' is a \(znet.schema.name); "
                + "zflow train trains the ZNet node whose logits the loss reads")
        }
        znetName = znet.displayName
        func source(_ node: GraphNode, _ input: String) throws -> OutputReference? {
            guard case let .output(index, port)? = node.inputs[input] else { return nil }
            return try graph.output("\(graph.nodes[index].displayName).\(port)")
        }
        func constant(_ node: GraphNode, _ input: String) throws -> String {
            switch node.inputs[input] {
            case let .constant(.string(text))?: return text
            case let .param(name)?:
                guard case let .string(text)? = values[name] else { break }
                return text
            default: break
            }
            throw BatchError("\(node.schema.name) node '\(node.displayName)' (line \(node.range.start.line)): "
                + "zflow train needs its '\(input)' as a literal or a param, not computed by a node")
        }
        guard let latent = try source(znet, "latent"), let text = try source(znet, "text") else {
            throw BatchError("ZNet node '\(znetName)': its latent and text must come from nodes")
        }
        self.latent = latent
        self.text = text
        weights = try constant(znet, "weights")
        fusion = try constant(znet, "fusion")
        var features = try source(znet, "features")
        if let pooled = features, graph.nodes[pooled.node].schema.name == "AttentionPool" {
            let pool = graph.nodes[pooled.node]
            let poolWeights = try constant(pool, "weights")
            guard poolWeights == weights else {
                throw BatchError("AttentionPool node '\(pool.displayName)' reads \(poolWeights) but ZNet node '\(znetName)' "
                    + "reads \(weights): zflow train trains one checkpoint, so both must read the same file")
            }
            features = try source(pool, "features")
        }
        self.features = features
        let sdNode = [features, latent].compactMap { $0.map { graph.nodes[$0.node] } }
            .first { ["UNetFeatures", "VAEEncode"].contains($0.schema.name) }
        stableDiffusionWeights = sdNode.flatMap { try? constant($0, "weights") }
    }
}
