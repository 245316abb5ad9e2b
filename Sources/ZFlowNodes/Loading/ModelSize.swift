import ZFlowTensor

/// The memory a model holds, estimated as the bytes of the distinct tensor storages (and Float
/// arrays) reachable from it by reflection, so that every model type is measured alike without
/// declaring its weights. Memory-mapped float32 weights count too: they are resident once used.
enum ModelSize {
    static func estimate(_ model: any Sendable) -> Int {
        var seenStorages: Set<ObjectIdentifier> = []
        var total = 0
        visitReachableValues(from: model) { value in
            if let storage = value as? TensorStorage {
                // On-demand values hold memory only while a layer computes with them.
                if seenStorages.insert(ObjectIdentifier(storage)).inserted, !storage.isOnDemand {
                    total += storage.count * MemoryLayout<Float>.size
                }
                return false
            }
            if let floats = value as? [Float] {
                total += floats.count * MemoryLayout<Float>.size
                return false
            }
            return true
        }
        return total
    }
}
