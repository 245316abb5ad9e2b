import Foundation
import Testing
@testable import ZFlowImage
@Test func scratchExamples() throws {
    let image = try loadImage(URL(fileURLWithPath: "examples/images/chelsea.png"))
    for (w, h) in [(448, 300), (451, 256), (448, 256)] {
        let resized = try image.resizedLanczos(width: w, height: h)
        let expected = try RGBImage(width: w, height: h, pixels: [UInt8](Data(contentsOf: URL(fileURLWithPath: "/tmp/zf_examples/chelsea.\(w)x\(h).rgb"))))
        try Data(resized.pixels).write(to: URL(fileURLWithPath: "/tmp/zf_examples/ours.\(w)x\(h).rgb"))
        print("SCRATCH \(w)x\(h) diff \(maxDifference(resized, expected))")
    }
}
