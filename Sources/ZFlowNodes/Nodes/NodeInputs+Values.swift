import ZFlowGraph
import ZFlowTensor

// Typed access to the values ZFlowNodes puts on ports.
extension NodeInputs {
    func tensor(_ name: String) throws -> Tensor { try value(name, as: Tensor.self) }
    func image(_ name: String) throws -> ImageValue { try value(name, as: ImageValue.self) }
    func features(_ name: String) throws -> FeatureSet { try value(name, as: FeatureSet.self) }

    /// An `[Int]` input (a list literal or a param).
    func ints(_ name: String) throws -> [Int] { try value(name, as: [Int].self) }
}
