import ZFlowGraph
import ZFlowImage
import ZFlowIO
import ZFlowTensor

/// Values of tensor-valued ports as named tensors, as SaveTensor writes them, LoadTensor reads
/// them and the disk cache keeps them: a tensor under NAME; an image as its [H, W, 3] tensor of
/// x / 255 under NAME, with the size of the photo it was made from in the metadata
/// (`NAME.original_size`: `WIDTHxHEIGHT`); a feature set as one tensor per tap under `NAME.tapN`,
/// with its stage in the metadata (`NAME.stage`: `raw` or `pooled`).
enum TensorFileForm {
    /// The tensors and metadata that hold `value` under `name`.
    static func entries(of value: any Sendable, name: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        switch value {
        case let tensor as Tensor:
            return ([name: tensor], [:])
        case let image as ImageValue:
            return ([name: image.image.interleavedUnitRangeTensor()],
                    ["\(name).original_size": "\(image.originalWidth)x\(image.originalHeight)"])
        case let features as FeatureSet:
            let tensors = features.taps.map { ("\(name).tap\($0.key)", $0.value) }
            return (Dictionary(uniqueKeysWithValues: tensors), ["\(name).stage": features.stage.rawValue])
        default:
            throw NodeError("a \(type(of: value)) is not a tensor-valued port value")
        }
    }

    /// The memory `value` holds, approximately.
    static func byteCount(of value: any Sendable) -> Int {
        switch value {
        case let tensor as Tensor: tensor.count * MemoryLayout<Float>.size
        case let image as ImageValue: image.image.pixels.count
        case let features as FeatureSet: features.taps.values.map(\.count).reduce(0, +) * MemoryLayout<Float>.size
        default: 0
        }
    }

    /// The value of `type` stored under `name` in `source`: the Swift value the standard nodes put
    /// on such a port (`Tensor`, `ImageValue` or `FeatureSet`). Throws naming the file, the key, its
    /// shape and the form `type` needs when the stored tensor does not have that form.
    static func value(named name: String, as type: PortType, in source: any TensorSource) throws -> any Sendable {
        let metadata = (source as? SafeTensorsFile)?.metadata ?? [:]
        switch type {
        case .image:
            let tensor = try tensor(name, as: type, in: source)
            let image = try RGBImage(interleavedUnitRange: tensor, origin: "tensor '\(name)' in \(source.origin)")
            let size = try metadata["\(name).original_size"].map { try originalSize($0, key: "\(name).original_size", in: source) }
            return ImageValue(image, originalWidth: size?.width, originalHeight: size?.height)
        case .features:
            return try features(named: name, stage: metadata["\(name).stage"], in: source)
        default:
            return try tensor(name, as: type, in: source)
        }
    }

    /// The tensor under `key` in the shape of `type` (a leading batch 1 dropped where the form has none).
    private static func tensor(_ key: String, as type: PortType, in source: any TensorSource) throws -> Tensor {
        guard let shape = source.shape(of: key) else {
            throw NodeError("\(source.origin) has no tensor '\(key)' (it has: \(someKeys(of: source)))")
        }
        guard let portShape = TensorForm.portShape(shape, as: type) else {
            throw NodeError("tensor '\(key)' in \(source.origin) has shape \(shape), "
                + "but as: \(type) needs \(TensorForm.description(of: type))")
        }
        let tensor = try source.tensor(key)
        return portShape == shape ? tensor : try tensor.reshaped(portShape)
    }

    /// The taps under `NAME.tapN`: raw [1, C, h, w] or pooled [N, C], all of one stage (the
    /// stage metadata SaveTensor writes when there is one, else the one their shapes show).
    private static func features(named name: String, stage stored: String?, in source: any TensorSource) throws -> FeatureSet {
        var taps: [Int: Tensor] = [:]
        for key in source.keys where key.hasPrefix("\(name).tap") {
            guard let tap = Int(key.dropFirst(name.count + 4)), tap >= 0 else { continue }
            taps[tap] = try tensor(key, as: .features, in: source)
        }
        let stages = Set(taps.values.map { $0.rank == 4 ? FeatureSet.Stage.raw : .pooled })
        let stage: FeatureSet.Stage
        if let stored {
            guard let named = FeatureSet.Stage(rawValue: stored), stages.isSubset(of: [named]) else {
                throw NodeError("\(source.origin): metadata '\(name).stage' is '\(stored)', "
                    + "but the taps are \(stages.map(\.rawValue).sorted().joined(separator: " and "))")
            }
            stage = named
        } else {
            guard let only = stages.first else {
                throw NodeError("\(source.origin) has no tensors '\(name).tapN' (it has: \(someKeys(of: source)))")
            }
            guard stages.count == 1 else {
                throw NodeError("\(source.origin): the taps under '\(name).tapN' mix raw [1, C, h, w] and pooled [N, C] tensors")
            }
            stage = only
        }
        return FeatureSet(stage: stage, taps: taps)
    }

    /// The first keys of `source`, for messages.
    private static func someKeys(of source: any TensorSource) -> String {
        source.keys.prefix(8).joined(separator: ", ") + (source.keys.count > 8 ? ", ..." : "")
    }

    private static func originalSize(_ text: String, key: String, in source: any TensorSource) throws -> (width: Int, height: Int) {
        let parts = text.split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 2, let width = parts[0], let height = parts[1], width > 0, height > 0 else {
            throw NodeError("\(source.origin): metadata '\(key)' is '\(text)', expected WIDTHxHEIGHT")
        }
        return (width, height)
    }
}
