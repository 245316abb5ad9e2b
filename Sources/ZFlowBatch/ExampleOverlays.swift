import Foundation
import ZFlowImage
import ZFlowTensor

// Thumbnails for the report: the photo at the mask's size with a mask tinted over it
// (the ground truth in green, a prediction thresholded at 0.5 in red).

enum ExampleOverlays {
    static let maxSide = 160
    static let predictionThreshold: Float = 0.5

    static func file(_ folder: URL, point: Int?, id: String) -> URL {
        RunFiles.examples(folder).appendingPathComponent(point.map { "p\($0)" } ?? "truth")
            .appendingPathComponent(RunFiles.safeName(id) + ".png")
    }

    static func write(photo url: URL, mask: [Bool], width: Int, height: Int, color: OverlayColor, to file: URL) throws {
        var photo = try loadImage(url)
        if photo.width != width || photo.height != height {
            photo = try photo.resizedLanczos(width: width, height: height)
        }
        let scale = min(1, Double(maxSide) / Double(max(width, height)))
        let thumbWidth = max(1, Int((Double(width) * scale).rounded()))
        let thumbHeight = max(1, Int((Double(height) * scale).rounded()))
        let thumb = try photo.resizedLanczos(width: thumbWidth, height: thumbHeight)
        var pixels = [UInt8](repeating: 0, count: thumbWidth * thumbHeight)
        for y in 0..<thumbHeight {
            let sourceY = min(height - 1, y * height / thumbHeight)
            for x in 0..<thumbWidth where mask[sourceY * width + min(width - 1, x * width / thumbWidth)] {
                pixels[y * thumbWidth + x] = 255
            }
        }
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try savePNG(rgb: try overlay(thumb, mask: pixels, color: color, alpha: 0.45), to: file)
    }

    static let truthColor = OverlayColor(red: 40, green: 210, blue: 70)
}
