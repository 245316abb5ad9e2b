import ZFlowIO
import ZFlowTensor

/// Several tensor files seen as one (e.g. an LD-ZNet checkpoint plus a file of extra fusion
/// weights). A key stored in two of them is an error, so nothing is silently shadowed.
public struct TensorSourceUnion: TensorSource {
    public let origin: String
    public let keys: [String]
    private let owners: [String: TensorSource]

    public init(_ sources: [TensorSource]) throws {
        var owners: [String: TensorSource] = [:]
        for source in sources {
            for key in source.keys {
                if let first = owners[key] {
                    throw TensorFileError(file: source.origin, key: key, "also stored in \(first.origin)")
                }
                owners[key] = source
            }
        }
        self.owners = owners
        keys = owners.keys.sorted()
        origin = sources.map(\.origin).joined(separator: " + ")
    }

    public func shape(of key: String) -> [Int]? { owners[key]?.shape(of: key) }

    public func tensor(_ key: String) throws -> Tensor {
        guard let owner = owners[key] else { throw TensorFileError(file: origin, key: key, "no such tensor") }
        return try owner.tensor(key)
    }

    public func tensorOnDemand(_ key: String) throws -> Tensor {
        guard let owner = owners[key] else { return try tensor(key) }
        return try owner.tensorOnDemand(key)
    }
}
