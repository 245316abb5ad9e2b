import ZFlowTensor

/// The memory a model holds, estimated as the bytes of the distinct tensor storages reachable
/// from it by reflection, so that every model type is measured alike without declaring its
/// weights. Memory-mapped float32 weights count too: they are resident once used.
enum ModelSize {
    static func estimate(_ model: any Sendable) -> Int {
        var seen: Set<ObjectIdentifier> = []
        var total = 0
        func visit(_ value: Any) {
            if let storage = value as? TensorStorage {
                // On-demand values hold memory only while a layer computes with them.
                if seen.insert(ObjectIdentifier(storage)).inserted, !storage.isOnDemand {
                    total += storage.count * MemoryLayout<Float>.size
                }
                return
            }
            if let floats = value as? [Float] {
                total += floats.count * MemoryLayout<Float>.size
                return
            }
            var mirror: Mirror? = Mirror(reflecting: value)
            if mirror?.displayStyle == .class, !seen.insert(ObjectIdentifier(value as AnyObject)).inserted { return }
            while let current = mirror {
                for child in current.children { visit(child.value) }
                mirror = current.superclassMirror
            }
        }
        visit(model)
        return total
    }
}
