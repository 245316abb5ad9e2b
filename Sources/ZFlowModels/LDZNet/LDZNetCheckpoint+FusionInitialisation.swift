import ZFlowTensor

extension LDZNetCheckpoint {
    /// Starting values, under their stored keys, of `fusion`'s parameters at every fusion position
    /// where this file stores none of them: the strategy's `initialParameters`, with a seed made
    /// from `seed` and the tap (`seed * 1000003 + tap`, distinct per tap in the generator's 32 bits).
    /// This is what training adds to a checkpoint made with another fusion. Positions holding some
    /// of the weights, and strategies without initial values, are left to `loadZNet`, which names
    /// what is missing.
    public func initialFusionParameters(fusion: String, seed: UInt64, taps: [Int] = ldzNetTaps,
                                        registry: FusionRegistry = .shared) throws -> [String: Tensor] {
        let strategy = try registry.strategy(named: fusion)
        let config = try architecture().resolve(sidecar?.declaredUNet, configFile: sidecarPath)
        let positions = try fusionPositions(config, taps: taps, poolGridSizes: poolGridSizes(config: config, taps: taps))
        let rename = rename(for: config)
        var tensors: [String: Tensor] = [:]
        for position in positions {
            let stored = strategy.parameterPrefixes.map { storedPrefix(of: "\(position.path).\($0)", config: config) }
            guard !source.keys.contains(where: { key in stored.contains { key.hasPrefix($0) } }),
                  let initial = try strategy.initialParameters(position: position,
                                                               seed: seed &* 1_000_003 &+ UInt64(position.tap))
            else { continue }
            for (key, value) in initial {
                guard strategy.parameterPrefixes.contains(where: { key.hasPrefix($0) }) else {
                    throw FusionError.initialParameterNotOwned(fusion: fusion, key: key, prefixes: strategy.parameterPrefixes)
                }
                tensors[rename("\(position.path).\(key)")] = value
            }
        }
        return tensors
    }
}
