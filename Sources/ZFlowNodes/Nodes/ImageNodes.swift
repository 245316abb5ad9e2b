import Foundation
import ZFlowGraph
import ZFlowImage

/// `LoadImage(path)`: a PNG or JPEG file (EXIF orientation applied) as 8-bit RGB.
let loadImageNode = ClosureNode(NodeSchema(
    name: "LoadImage", doc: "Reads a PNG or JPEG photo (EXIF orientation applied) as 8-bit RGB.",
    inputs: [InputSpec("path", .path, doc: "the image file")],
    outputs: [OutputSpec("image", .image, doc: "the photo")])
) { inputs in
    NodeOutputs(["image": ImageValue(try loadImage(URL(fileURLWithPath: try inputs.path("path"))))])
}

/// `PrepareImage(image, area, multiple)`: the LD-ZNet reference resize (spec stage 1).
let prepareImageNode = ClosureNode(NodeSchema(
    name: "PrepareImage",
    doc: "Resizes to about area x area pixels, aspect kept, sides multiples of 64 (Pillow LANCZOS).",
    inputs: [
        InputSpec("image", .image, doc: "the photo"),
        InputSpec("area", .int, default: .int(384), range: 64...4096,
                  doc: "the side of the square whose area the result approximates"),
        InputSpec("multiple", .int, default: .int(64), choices: [.int(64)],
                  doc: "sides are rounded down to a multiple of this (the UNet needs 64)"),
    ],
    outputs: [OutputSpec("image", .image, doc: "the resized photo; remembers the original size")])
) { inputs in
    let photo = try inputs.image("image")
    let size = try pipelineSize(width: photo.image.width, height: photo.image.height, side: try inputs.int("area"))
    let resized = try photo.image.resizedLanczos(width: size.width, height: size.height)
    return NodeOutputs(["image": ImageValue(resized, originalWidth: photo.originalWidth,
                                            originalHeight: photo.originalHeight)])
}
