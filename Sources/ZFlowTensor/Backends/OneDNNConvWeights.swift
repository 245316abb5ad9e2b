import CDNNL

/// A convolution's weights in the blocked layout oneDNN's forward convolution wants, reordered once
/// per weight tensor and layout and kept with its storage (`TensorStorage.derived`, forgotten when
/// trained weights change), as the Winograd transform is, instead of reordered on every call. A
/// 1280->1280 3x3 convolution at 12x12 moved 59 MB of weights per call for 4 GFLOP of work: kept,
/// it ran at 448 GFLOP/s instead of 139 on a 2-core Zen 5 (`zflow-bench ops`).
final class OneDNNConvWeights {
    static let derivedKeyPrefix = "oneDNN conv2d weights "
    /// oneDNN's description of the layout (zflow_dnnl_conv2d_weights_layout), NUL-terminated.
    let layoutKey: [CChar]
    /// nil when the reorder failed; the convolution then reorders the weights itself.
    let values: UnsafePointer<Float>?

    private init(reordering weight: Tensor, geometry g: ConvGeometry, batch: Int, hasBias: Bool, layoutKey: [CChar],
                 bytes: Int) {
        self.layoutKey = layoutKey
        let values = allocateFloats((bytes + MemoryLayout<Float>.stride - 1) / MemoryLayout<Float>.stride)
        if zflow_dnnl_conv2d_reorder_weights(batch, g.channels, g.height, g.width, weight.shape[0], g.kernelHeight,
                                             g.kernelWidth, g.stride, g.padding, hasBias, true, weight.pointer,
                                             layoutKey, values) == 0 {
            self.values = UnsafePointer(values)
        } else {
            releaseFloats(values)
            self.values = nil
        }
    }

    deinit {
        if let values { releaseFloats(UnsafeMutablePointer(mutating: values)) }
    }

    /// The kept weights of `weight` for the forward convolution of `geometry` on `batch` images, or
    /// nil when oneDNN wants them dense or in a layout that is not kept (its own Winograd weights).
    static func kept(for weight: Tensor, geometry g: ConvGeometry, batch: Int, hasBias: Bool) -> OneDNNConvWeights? {
        var bytes = 0
        var key = [CChar](repeating: 0, count: 512)
        guard zflow_dnnl_conv2d_weights_layout(batch, g.channels, g.height, g.width, weight.shape[0], g.kernelHeight,
                                               g.kernelWidth, g.stride, g.padding, hasBias, true, &bytes, &key,
                                               Int32(key.count)) == 0 else { return nil }
        let layoutKey = Array(key.prefix { $0 != 0 }) + [0]
        let layoutName = String(decoding: layoutKey.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let kept = weight.storage.derived(derivedKeyPrefix + "\(weight.offset) \(layoutName)") {
            OneDNNConvWeights(reordering: weight, geometry: g, batch: batch, hasBias: hasBias, layoutKey: layoutKey,
                              bytes: bytes)
        }
        return kept.values == nil ? nil : kept
    }
}
