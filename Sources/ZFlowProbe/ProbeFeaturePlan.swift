import ZFlowBatch
import ZFlowGraph

/// What `zflow probe` takes from a graph: the UNetFeatures node, the outputs that feed its latent
/// (an AddNoise node) and its text (run through the engine with the memo cache, per sample, t and
/// seed), its SD weights, and the params through which the probe sets t and the noise seed. The
/// SD UNet itself is then run by the probe with every requested tap, so the graph's own `taps`
/// list does not matter and the taps never enter the memo cache (the feature store holds them).
public struct ProbeFeaturePlan: Sendable {
    public let featuresName: String
    let latent: OutputReference
    let text: OutputReference
    /// SD weights as UNetFeatures reads them (a literal or a param's value).
    let weights: String
    /// The param both AddNoise and UNetFeatures read t from.
    let timestepParam: String
    /// The param AddNoise reads its seed from; nil when the seed is a literal.
    let seedParam: String?
    /// AddNoise's seed as the graph (with `--set`) gives it: the seeds when `--seeds` is not given.
    let graphSeed: Int

    /// `node`: `--features NODE`, or nil for the graph's only UNetFeatures node. `values`: every
    /// param's value for this run (defaults with `--set` applied).
    public init(graph: CheckedGraph, node name: String?, values: [String: Constant]) throws {
        let unet = try Self.featuresNode(graph, named: name)
        featuresName = unet.displayName
        source = graph.source
        range = unet.range
        func problem(_ node: GraphNode, _ message: String) -> GraphDiagnostics {
            GraphDiagnostics(source: graph.source, diagnostics: [Diagnostic(node.range, message)])
        }
        func producer(_ input: String) throws -> (GraphNode, OutputReference) {
            guard case let .output(index, port)? = unet.inputs[input] else {
                throw problem(unet, "zflow probe needs UNetFeatures' \(input) computed by a node, not a constant")
            }
            let node = graph.nodes[index]
            return (node, try graph.output("\(node.displayName).\(port)"))
        }
        let (noise, latent) = try producer("latent")
        guard noise.schema.name == "AddNoise" else {
            throw problem(unet, "zflow probe sets t and the noise seed on the AddNoise node that feeds UNetFeatures' latent; "
                + "here the latent comes from \(noise.schema.name) node '\(noise.displayName)'")
        }
        self.latent = latent
        text = try producer("text").1
        guard case let .param(timestep)? = unet.inputs["t"] else {
            throw problem(unet, "zflow probe sets t per cell through a param: UNetFeatures' t must read a param, "
                + "not \(unet.inputs["t"].map { "\($0)" } ?? "its default")")
        }
        guard case .param(timestep)? = noise.inputs["t"] else {
            throw problem(noise, "AddNoise must read t from param '\(timestep)' as UNetFeatures '\(featuresName)' does: "
                + "zflow probe sets that param per cell")
        }
        timestepParam = timestep
        switch unet.inputs["weights"] {
        case .constant(.string(let path))?: weights = path
        case .param(let param)?:
            guard case let .string(path)? = values[param] else { fallthrough }
            weights = path
        default:
            throw problem(unet, "zflow probe needs UNetFeatures' weights as a literal or a param, not computed by a node")
        }
        switch noise.inputs["seed"] {
        case .param(let param)?:
            seedParam = param
            guard case let .int(seed)? = values[param] else { throw problem(noise, "param '\(param)' is not an Int seed") }
            graphSeed = seed
        case .constant(.int(let seed))?:
            seedParam = nil
            graphSeed = seed
        default:
            seedParam = nil
            graphSeed = 0
        }
    }

    private let source: SourceFile
    private let range: SourceRange

    /// An error at the UNetFeatures node (exit 3, as a value outside an argument's range).
    func diagnostic(_ message: String) -> GraphDiagnostics {
        GraphDiagnostics(source: source, diagnostics: [Diagnostic(range, message)])
    }

    /// The graph's outputs the engine computes per (sample, t, seed).
    var engineOutputs: [OutputReference] { [latent, text] }

    /// Checks the grid against the graph before any work, as `--set` is checked: a timestep or
    /// seed outside the range of the arguments its param feeds is the graph diagnostic `run`
    /// prints; a tap outside UNetFeatures' `taps` range points at the node; seeds other than the
    /// graph's need a seed param.
    public func check(_ grid: ProbeGrid, graph: CheckedGraph, settings: [String: Constant]) throws {
        guard let unet = graph.node(named: featuresName) else { return }
        if case let .range(range)? = unet.schema.inputs.first(where: { $0.name == "taps" })?.constraint,
           let bad = grid.taps.first(where: { !range.contains(Double($0)) }) {
            throw diagnostic("--taps: tap \(bad) is outside \(Int(range.lowerBound))...\(Int(range.upperBound)), "
                + "the range of the 'taps' argument of UNetFeatures")
        }
        for t in grid.timesteps {
            _ = try graph.parameterValues(settings.merging([timestepParam: .int(t)]) { $1 })
        }
        if let seedParam {
            for seed in grid.seeds { _ = try graph.parameterValues(settings.merging([seedParam: .int(seed)]) { $1 }) }
        } else if grid.seeds != [graphSeed] {
            throw BatchError("--seeds \(grid.seeds.map(String.init).joined(separator: ",")): the AddNoise node feeding "
                + "'\(featuresName)' has the literal seed \(graphSeed); make it a param to probe other seeds")
        }
    }

    private static func featuresNode(_ graph: CheckedGraph, named name: String?) throws -> GraphNode {
        if let name {
            guard let node = graph.node(named: name) else {
                throw BatchError("--features \(name): no node named '\(name)' in \(graph.source.name)")
            }
            guard node.schema.name == "UNetFeatures" else {
                throw BatchError("--features \(name): node '\(name)' is a \(node.schema.name), not a UNetFeatures node")
            }
            return node
        }
        let candidates = graph.nodes.filter { $0.schema.name == "UNetFeatures" }
        guard candidates.count == 1 else {
            throw BatchError(candidates.isEmpty
                ? "\(graph.source.name) has no UNetFeatures node: zflow probe reads the SD UNet's taps"
                : "\(graph.source.name) has \(candidates.count) UNetFeatures nodes (\(candidates.map(\.displayName).joined(separator: ", "))); "
                    + "choose one with --features NODE")
        }
        return candidates[0]
    }
}
