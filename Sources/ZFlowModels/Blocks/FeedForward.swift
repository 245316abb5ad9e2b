import ZFlowTensor

/// Matches diffusers `FeedForward` with `activation_fn="geglu"`: `net.0.proj` (dim -> 2 * 4 dim),
/// GEGLU (`a * gelu(gate)`), `net.2` (4 dim -> dim).
struct FeedForward: Sendable {
    let projectIn: Linear
    let projectOut: Linear

    init(_ weights: WeightReader, dimension: Int, multiplier: Int = 4) throws {
        let inner = dimension * multiplier
        projectIn = try Linear(weights.scoped("net.0.proj"), inFeatures: dimension, outFeatures: 2 * inner)
        projectOut = try Linear(weights.scoped("net.2"), inFeatures: inner, outFeatures: dimension)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor { try projectOut(geglu(projectIn(x))) }
}
