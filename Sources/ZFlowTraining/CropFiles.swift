import Foundation
import ZFlowBatch
import ZFlowEval
import ZFlowImage

/// The image crops of `--augment reference`, as PNG files the graph's image param is bound to
/// (the graph loads and prepares them as it does any image). A crop is named by its sample
/// and square, and written once: a crop that repeats within a run is the same file, so the memo
/// cache serves its frozen upstream. The folder is removed when the run ends.
struct CropFiles {
    let folder: URL

    /// Writes (once) the `crop` of `sample`'s image, which must have the mask's size.
    func file(for sample: DatasetSample, crop: SquareCrop, maskSize: (width: Int, height: Int)) throws -> URL {
        let url = folder.appendingPathComponent("\(sample.line)-\(crop.x)-\(crop.y)-\(crop.side).png")
        guard !FileManager.default.fileExists(atPath: url.path) else { return url }
        // EXIF orientation applied, as the LoadImage node reads it.
        let image = try loadImage(sample.image)
        guard image.width == maskSize.width, image.height == maskSize.height else {
            throw BatchError("image \(sample.image.path) is \(image.width)x\(image.height) but its mask \(sample.mask.path) is "
                + "\(maskSize.width)x\(maskSize.height): --augment reference crops both the same way, so they must match")
        }
        var pixels: [UInt8] = []
        pixels.reserveCapacity(3 * crop.side * crop.side)
        for y in crop.y..<(crop.y + crop.side) {
            let start = 3 * (y * image.width + crop.x)
            pixels += image.pixels[start..<(start + 3 * crop.side)]
        }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let png = try encodePNG(rgb: RGBImage(width: crop.side, height: crop.side, pixels: pixels))
        try Data(png).write(to: url, options: .atomic)
        return url
    }

    func removeAll() {
        try? FileManager.default.removeItem(at: folder)
    }
}
