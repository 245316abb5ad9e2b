import CDNNL

/// Matches `torch.nn.functional.conv2d` (groups 1, dilation 1, symmetric zero padding):
/// x [N,C,H,W], weight [O,C,kh,kw], bias [O] -> [N,O,Ho,Wo].
///
/// Runs on the backend the tuner chose for this shape (KernelTuner): oneDNN's convolution, or
/// ZFlow's own algorithms: 1x1 stride-1 convolutions are one sgemm on the input as it lies; 3x3
/// stride-1 ones with at least 16 x 16 outputs use Winograd F(2x2, 3x3) (Winograd.swift) or
/// im2col, whichever the tuner timed faster (`ConvAlgorithm`). Others unfold the input (im2col) a
/// band of output rows at a time, so the temporary stays under `im2colBudget`.
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0) throws -> Tensor {
    let timing = timeOp("conv \(weight.shape[2])x\(weight.shape[3])" + (stride > 1 ? " stride \(stride)" : ""))
    defer { timing?.stop() }
    let geometry = try convolutionGeometry(x, weight: weight, bias: bias, stride: stride, padding: padding)
    let outputShape = [x.shape[0], weight.shape[0], geometry.outputHeight, geometry.outputWidth]
    // The tuning key, made at most once per call: the backend's decision and the own algorithm's share it.
    var key: String?
    func shapeKey() -> String {
        if let key { return key }
        let made = convolutionKey(x, weight, stride: stride, padding: padding, bias: bias != nil)
        key = made
        return made
    }
    let result = tunedKernel(.conv2d, shape: shapeKey(), work: Tensor.elementCount(outputShape) * geometry.patchSize, own: {
        let output = Tensor(uninitialized: outputShape)
        ownConv2d(x, weight: weight, bias: bias, geometry: geometry, algorithm: nil, tuner: .shared, shapeKey: shapeKey,
                  bandFloats: nil, into: output)
        return output
    }, onednn: {
        let output = Tensor(uninitialized: outputShape)
        return zflow_dnnl_conv2d(x.shape[0], geometry.channels, geometry.height, geometry.width, weight.shape[0],
                                 geometry.kernelHeight, geometry.kernelWidth, stride, padding, x.pointer, weight.pointer,
                                 bias?.pointer, output.mutablePointer, true, nil, 0) == 0 ? output : nil
    }, afterTiming: { winner in
        // The Winograd transform made while the own kernels were timed would otherwise stay as long as the model.
        if winner == .onednn { weight.storage.forgetDerived(prefix: WinogradWeights.derivedKeyPrefix) }
    })
    GradientTape.note("conv2d", inputs: [x, weight] + (bias.map { [$0] } ?? []), output: result,
                      pullback: conv2dBackward(x, weight: weight, hasBias: bias != nil, stride: stride, padding: padding))
    return result
}

/// ZFlow's own algorithms for a 3x3 stride-1 convolution. From `winogradMinimumOutputs` output
/// pixels, which one computes a shape is chosen by timing both, once per machine
/// (KernelTuner.algorithm): neither wins everywhere (on a Zen 5, im2col was 2-4x faster on the
/// VAE's and UNet's 3- and 4-channel input convolutions, Winograd 1.3-2.5x on the others). Their sums
/// round differently, so the recorded choice fixes the bits, as a backend's does.
enum ConvAlgorithm: String, TunedCandidate {
    case winograd, im2col

    var isAvailable: Bool { true }

    /// The tuning file's name of the decision.
    static let decision = "conv2dAlgorithm"
}

/// 16 x 16 (64 tiles of 2 x 2). Below it a convolution runs im2col, untimed: Winograd keeps its
/// transformed weights (16/9 of the weights) for the model's life, and each of them serves one
/// product per tile, so with few tiles it holds much memory for little time. Timed on a Zen 5
/// (2026-12-06), Winograd was 10-60% faster on SD's 1280-channel third level (12 x 12 and 8 x 14
/// latents) but its transforms took the LD-ZNet pipeline's peak RSS from 1.06x PyTorch's to
/// 1.35-1.38x (docs/benchmarks.md). Shapes from here up that the tuner does not time (small ones,
/// confined work) take Winograd.
let winogradMinimumOutputs = 16 * 16

/// ZFlow's own `conv2d` with a chosen algorithm (nil: `tuner`'s) and temporary size (tests force
/// both paths and many bands).
func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int,
            algorithm: ConvAlgorithm?, bandFloats: Int?, tuner: KernelTuner = .shared) throws -> Tensor {
    let geometry = try convolutionGeometry(x, weight: weight, bias: bias, stride: stride, padding: padding)
    let result = Tensor(uninitialized: [x.shape[0], weight.shape[0], geometry.outputHeight, geometry.outputWidth])
    ownConv2d(x, weight: weight, bias: bias, geometry: geometry, algorithm: algorithm, tuner: tuner,
              shapeKey: { convolutionKey(x, weight, stride: stride, padding: padding, bias: bias != nil) },
              bandFloats: bandFloats, into: result)
    return result
}

/// The sizes of `conv2d`'s operands, or the shape error that makes them unusable.
private func convolutionGeometry(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int) throws -> ConvGeometry {
    guard x.rank == 4, weight.rank == 4, x.shape[1] == weight.shape[1] else {
        throw ShapeError("conv2d", "input \(x.shape) ([N,C,H,W]) does not match weight \(weight.shape) ([O,C,kh,kw])")
    }
    let geometry = ConvGeometry(
        channels: x.shape[1], height: x.shape[2], width: x.shape[3],
        kernelHeight: weight.shape[2], kernelWidth: weight.shape[3], stride: stride, padding: padding)
    guard stride >= 1, padding >= 0, geometry.outputHeight > 0, geometry.outputWidth > 0 else {
        throw ShapeError("conv2d", "input \(x.shape) with weight \(weight.shape), stride \(stride), padding \(padding) gives no output")
    }
    if let bias, bias.shape != [weight.shape[0]] {
        throw ShapeError("conv2d", "bias \(bias.shape) does not match weight \(weight.shape)")
    }
    return geometry
}

/// `algorithm` nil: for 3x3 stride-1 convolutions from `winogradMinimumOutputs` outputs, the one
/// `tuner` chose under `shapeKey` (`tunedAlgorithm`); im2col below.
private func ownConv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry,
                       algorithm: ConvAlgorithm?, tuner: KernelTuner, shapeKey: () -> String, bandFloats: Int?,
                       into result: Tensor) {
    let outChannels = weight.shape[0]
    let batch = x.shape[0]
    let outputPlane = geometry.outputHeight * geometry.outputWidth
    let winogradApplies = geometry.kernelHeight == 3 && geometry.kernelWidth == 3 && geometry.stride == 1
    let useWinograd = winogradApplies && (algorithm ?? (outputPlane < winogradMinimumOutputs ? .im2col
        : tunedAlgorithm(x, weight: weight, bias: bias, geometry: geometry, tuner: tuner, shapeKey: shapeKey,
                         output: result))) == .winograd
    if useWinograd {
        let transformed = weight.storage.derived(winogradKey(weight)) {
            WinogradWeights(weight.pointer, outChannels: outChannels, channels: geometry.channels)
        }
        // On-demand weights keep no derived values: this call's transform is the only reference to
        // its buffer, which must outlive the products.
        withExtendedLifetime(transformed) {
            for item in 0..<batch {
                winogradConvolveImage(x.pointer + item * geometry.channels * geometry.height * geometry.width,
                                      geometry: geometry, bias: bias?.pointer, outChannels: outChannels,
                                      output: result.mutablePointer + item * outChannels * outputPlane,
                                      transformedWeight: transformed.values, bandFloats: bandFloats ?? winogradBandFloats)
            }
        }
        return
    }
    for item in 0..<batch {
        let input = x.pointer + item * geometry.channels * geometry.height * geometry.width
        let output = result.mutablePointer + item * outChannels * outputPlane
        if let bias {
            for channel in 0..<outChannels {
                (output + channel * outputPlane).update(repeating: bias.pointer[channel], count: outputPlane)
            }
        }
        convolveImage(input, geometry: geometry, weight: weight.pointer, outChannels: outChannels,
                      output: output, accumulate: bias != nil, im2colFloats: bandFloats ?? im2colBudget)
    }
}

/// The own algorithm the tuner chose for a 3x3 stride-1 convolution, timing both into scratch
/// output the first time. When im2col wins, the Winograd transform made while it was timed goes.
private func tunedAlgorithm(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvGeometry, tuner: KernelTuner,
                            shapeKey: () -> String, output: Tensor) -> ConvAlgorithm {
    var scratch: Tensor?
    let chosen: ConvAlgorithm = tuner.algorithm(
        for: ConvAlgorithm.decision, shape: shapeKey(),
        work: output.count * geometry.patchSize, among: [ConvAlgorithm.winograd, .im2col],
        fallback: ConvAlgorithm.winograd
    ) { (candidate: ConvAlgorithm) -> Bool in
        if scratch == nil { scratch = Tensor(uninitialized: output.shape) }
        ownConv2d(x, weight: weight, bias: bias, geometry: geometry, algorithm: candidate, tuner: tuner,
                  shapeKey: shapeKey, bandFloats: nil, into: scratch!)
        return true
    }
    if scratch != nil && chosen == .im2col { weight.storage.forgetDerived(prefix: winogradKey(weight)) }
    return chosen
}

/// The key of `weight`'s Winograd transform among its storage's derived values (a storage may hold
/// several weights).
private func winogradKey(_ weight: Tensor) -> String {
    WinogradWeights.derivedKeyPrefix + "\(weight.offset) \(weight.shape)"
}

/// Sizes of one convolution; output sizes follow PyTorch's floor rule.
struct ConvGeometry {
    let channels, height, width, kernelHeight, kernelWidth, stride, padding: Int
    var outputHeight: Int { (height + 2 * padding - kernelHeight) / stride + 1 }
    var outputWidth: Int { (width + 2 * padding - kernelWidth) / stride + 1 }
    var patchSize: Int { channels * kernelHeight * kernelWidth }
    var isPointwise: Bool { kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padding == 0 }
}

/// Largest im2col temporary, in floats (16 MB).
let im2colBudget = 1 << 22

/// output[O, Ho*Wo] (+)= weight[O, C*kh*kw] x unfold(input) for one image.
func convolveImage(_ input: UnsafePointer<Float>, geometry: ConvGeometry, weight: UnsafePointer<Float>,
                   outChannels: Int, output: UnsafeMutablePointer<Float>, accumulate: Bool, im2colFloats: Int) {
    let outputPlane = geometry.outputHeight * geometry.outputWidth
    let beta: Float = accumulate ? 1 : 0
    if geometry.isPointwise {
        sgemm(m: outChannels, n: outputPlane, k: geometry.channels, a: weight, lda: geometry.channels,
              b: input, ldb: outputPlane, c: output, ldc: outputPlane, beta: beta)
        return
    }
    let rowsPerBand = max(1, min(geometry.outputHeight, im2colFloats / max(1, geometry.patchSize * geometry.outputWidth)))
    let columns = allocateFloats(geometry.patchSize * rowsPerBand * geometry.outputWidth)
    defer { releaseFloats(columns) }
    var firstRow = 0
    while firstRow < geometry.outputHeight {
        let rows = min(rowsPerBand, geometry.outputHeight - firstRow)
        let bandWidth = rows * geometry.outputWidth
        unfold(input, geometry: geometry, outputRows: firstRow..<(firstRow + rows), into: columns)
        sgemm(m: outChannels, n: bandWidth, k: geometry.patchSize, a: weight, lda: geometry.patchSize,
              b: columns, ldb: bandWidth, c: output + firstRow * geometry.outputWidth, ldc: outputPlane, beta: beta)
        firstRow += rows
    }
}

/// im2col for a band of output rows: columns[(c*kh + i)*kw + j][r*Wo + ow] = x[c, oh*s - p + i, ow*s - p + j],
/// zero outside the image.
func unfold(_ input: UnsafePointer<Float>, geometry g: ConvGeometry, outputRows: Range<Int>,
            into columns: UnsafeMutablePointer<Float>) {
    let bandWidth = outputRows.count * g.outputWidth
    let kernelArea = g.kernelHeight * g.kernelWidth
    parallelRanges(g.patchSize, costPerItem: bandWidth) { patchRows in
        for patchRow in patchRows {
            let channel = patchRow / kernelArea
            let i = (patchRow % kernelArea) / g.kernelWidth, j = patchRow % g.kernelWidth
            let plane = input + channel * g.height * g.width
            var destination = columns + patchRow * bandWidth
            // Output columns whose input column ow*s - p + j lies inside [0, W).
            let firstInside = min(g.outputWidth, max(0, ceilDivide(g.padding - j, g.stride)))
            let lastInside = min(g.outputWidth, max(firstInside, ceilDivide(g.width + g.padding - j, g.stride)))
            for outputRow in outputRows {
                let inputRow = outputRow * g.stride - g.padding + i
                if inputRow < 0 || inputRow >= g.height {
                    destination.update(repeating: 0, count: g.outputWidth)
                } else {
                    let source = plane + inputRow * g.width - g.padding + j
                    destination.update(repeating: 0, count: firstInside)
                    if g.stride == 1 {
                        (destination + firstInside).update(from: source + firstInside, count: lastInside - firstInside)
                    } else {
                        for column in firstInside..<lastInside { destination[column] = source[column * g.stride] }
                    }
                    (destination + lastInside).update(repeating: 0, count: g.outputWidth - lastInside)
                }
                destination += g.outputWidth
            }
        }
    }
}

/// ceil(a / b) for b > 0 and any sign of a.
func ceilDivide(_ a: Int, _ b: Int) -> Int {
    a >= 0 ? (a + b - 1) / b : -((-a) / b)
}
