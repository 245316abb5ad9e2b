import Foundation
import ZFlowGraph
import ZFlowImage
import ZFlowTensor

/// `Threshold(logits, value, like)`: sigmoid, resized to the original photo, thresholded (spec stage 9).
let thresholdNode = ClosureNode(NodeSchema(
    name: "Threshold",
    doc: "sigmoid(logits) > value, after resizing the logits (bicubic) to the original photo's size.",
    inputs: [
        InputSpec("logits", .logits, doc: "segmentation logits [1, 1, H, W]"),
        InputSpec("value", .float, default: .float(0.5), range: 0...1, doc: "probability threshold"),
        InputSpec("like", .image, optional: true, doc: "the photo whose original size the mask takes"),
    ],
    outputs: [OutputSpec("mask", .mask, doc: "[1, 1, H, W] of 0 and 1")])
) { inputs in
    var logits = try inputs.tensor("logits")
    guard logits.rank == 4, logits.shape[0] == 1, logits.shape[1] == 1 else {
        throw NodeError("logits have shape \(logits.shape), expected [1, 1, H, W]")
    }
    if let like = inputs.optional("like") as? ImageValue,
       like.originalHeight != logits.shape[2] || like.originalWidth != logits.shape[3] {
        logits = try resizeBicubic(logits, height: like.originalHeight, width: like.originalWidth)
    }
    // sigmoid(x) > p  <=>  x > logit(p); computed on probabilities to match the definition at the ends.
    let threshold = Float(try inputs.float("value"))
    let mask = Tensor(uninitialized: logits.shape)
    let input = logits.pointer, output = mask.mutablePointer
    for i in 0..<mask.count { output[i] = 1 / (1 + exp(-input[i])) > threshold ? 1 : 0 }
    return NodeOutputs(["mask": mask])
}

/// The mask as an 8-bit picture: 0 background, 255 object.
func grayImage(fromMask mask: Tensor) throws -> GrayImage {
    guard mask.rank == 4, mask.shape[0] == 1, mask.shape[1] == 1 else {
        throw NodeError("mask has shape \(mask.shape), expected [1, 1, H, W]")
    }
    let pixels = mask.buffer.map { UInt8(max(0, min(1, $0)) * 255 + 0.5) }
    return try GrayImage(width: mask.shape[3], height: mask.shape[2], pixels: pixels)
}

/// `SaveMask(mask, path)`: an 8-bit gray PNG.
let saveMaskNode = ClosureNode(NodeSchema(
    name: "SaveMask", doc: "Writes a mask as an 8-bit gray PNG (255 = object).",
    inputs: [
        InputSpec("mask", .mask, doc: "the mask"),
        InputSpec("path", .path, doc: "the PNG file to write (folders are created)"),
    ],
    outputs: [], isCacheable: false)
) { inputs in
    try savePNG(gray: grayImage(fromMask: try inputs.tensor("mask")), to: outputFile(try inputs.path("path")))
    return NodeOutputs()
}

/// `SaveOverlay(image, mask, path)`: the mask tinted over the photo, for people.
let saveOverlayNode = ClosureNode(NodeSchema(
    name: "SaveOverlay", doc: "Writes the photo with the mask tinted over it and outlined, as an RGB PNG.",
    inputs: [
        InputSpec("image", .image, doc: "the photo (the mask must have its size: use Threshold's like:)"),
        InputSpec("mask", .mask, doc: "the mask"),
        InputSpec("path", .path, doc: "the PNG file to write (folders are created)"),
    ],
    outputs: [], isCacheable: false)
) { inputs in
    let photo = try inputs.image("image").image
    let mask = try grayImage(fromMask: try inputs.tensor("mask"))
    guard mask.width == photo.width, mask.height == photo.height else {
        throw NodeError("mask is \(mask.width)x\(mask.height) but the image is \(photo.width)x\(photo.height); "
            + "give Threshold like: the same image")
    }
    try savePNG(rgb: overlay(photo, mask: mask), to: outputFile(try inputs.path("path")))
    return NodeOutputs()
}
