import CBLAS
import CDNNL
import Foundation

/// Where a product, a convolution, a normalization or an activation is computed. Each op class has
/// its own candidates (`KernelOp.candidates`): GEMMs run on ZFlow's packed kernel, OpenBLAS or
/// oneDNN; convolutions and their gradients on ZFlow's algorithms (Winograd / im2col / pointwise /
/// col2im, whose products are GEMMs chosen as above) or on oneDNN's convolution primitives;
/// layerNorm, softmax and the activations oneDNN has (and the gradients of layerNorm and the
/// activations) on ZFlow's kernels or on oneDNN's layer normalization, softmax and eltwise primitives.
public enum KernelBackend: String, CaseIterable, Codable, Sendable {
    /// ZFlow's own kernels (vector width of the build: AVX-512 or AVX2).
    case own
    /// The CBLAS library loaded at run time (OpenBLAS on Debian), for products.
    case openblas
    /// oneDNN (libdnnl.so.2), loaded at run time.
    case onednn

    /// Whether this process can run it (oneDNN may be absent; the others always run).
    public var isAvailable: Bool {
        switch self {
        case .own, .openblas: true
        case .onednn: zflow_dnnl_available()
        }
    }

    /// The library behind it, for reports: e.g. "libdnnl.so.2 (oneDNN 2.6.3)".
    public var libraryDescription: String {
        switch self {
        case .own: "ZFlow kernels (\(ownKernelWidth))"
        case .openblas: String(cString: zflow_blas_description())
        case .onednn: String(cString: zflow_dnnl_description())
        }
    }
}

/// The vector width ZFlow's own kernels were built for, and whether they were optimized: it is part
/// of the tuning file's machine key, so that winners timed by a debug build (tests), where ZFlow's
/// own kernels run several times slower, are never used by a release build.
public let ownKernelWidth: String = {
    #if ZFLOW_AVX512
    let width = "AVX-512, 16 lanes"
    #else
    let width = "\(GEMMVector.scalarCount) lanes (AVX2 build or narrower)"
    #endif
    #if DEBUG
    return width + ", unoptimized debug build"
    #else
    return width
    #endif
}()

/// The kinds of operation whose implementation is chosen by measurement.
public enum KernelOp: String, CaseIterable, Codable, Sendable {
    case gemm, conv2d, convTranspose2d
    /// conv2d's input gradient (a transposed convolution of the output gradient).
    case conv2dBackwardData
    /// conv2d's weight gradient, with its bias gradient when the convolution has a bias.
    case conv2dBackwardWeights
    /// convTranspose2d's weight (and bias) gradient; its input gradient is a conv2d.
    case convTranspose2dBackwardWeights
    /// layerNorm over the last dimension, and its gradients (dx, dweight, dbias).
    case layerNorm, layerNormBackward
    /// softmax over the last dimension (its gradient is ZFlow's own: Softmax+Backward.swift).
    case softmax
    /// The activations oneDNN's eltwise primitive computes as the same function (`Activation`:
    /// GELU erf and tanh, SiLU, QuickGELU, sigmoid), and their input gradients.
    case activation, activationBackward

    /// The backends that can compute this op, in the order they are tried when times tie.
    public var candidates: [KernelBackend] {
        switch self {
        case .gemm: [.own, .openblas, .onednn]
        case .conv2d, .convTranspose2d, .conv2dBackwardData, .conv2dBackwardWeights, .convTranspose2dBackwardWeights,
             .layerNorm, .layerNormBackward, .softmax, .activation, .activationBackward:
            [.own, .onednn]
        }
    }

    /// The implementation used when nothing is recorded and nothing is measured: what ZFlow used
    /// before backends were chosen by measurement.
    var fallback: KernelBackend {
        switch self {
        case .gemm:
            #if ZFLOW_AVX512
            .own
            #else
            .openblas
            #endif
        case .conv2d, .convTranspose2d, .conv2dBackwardData, .conv2dBackwardWeights, .convTranspose2dBackwardWeights,
             .layerNorm, .layerNormBackward, .softmax, .activation, .activationBackward:
            .own
        }
    }

    /// The decision among ZFlow's own algorithms that this op's own kernels make by timing, if any
    /// (KernelTuner.algorithm): conv2d's Winograd or im2col.
    public var ownAlgorithmDecision: String? { self == .conv2d ? ConvAlgorithm.decision : nil }

    /// The candidate a forced backend means for this op (OpenBLAS computes products only: forced
    /// OpenBLAS runs ZFlow's convolution algorithms on OpenBLAS products, and ZFlow's own kernels
    /// for the rest).
    func forced(_ backend: KernelBackend) -> KernelBackend {
        candidates.contains(backend) ? backend : .own
    }
}
