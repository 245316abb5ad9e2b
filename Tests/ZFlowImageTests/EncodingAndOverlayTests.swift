// PNG output round trips and the overlay renderer.
import Foundation
import Testing
@testable import ZFlowImage

@Test func grayAndRGBPNGRoundTrip() throws {
    let gray = try GrayImage(width: 5, height: 3, pixels: (0..<15).map { UInt8($0 * 17) })
    let decodedGray = try decodeImage(data: encodePNG(gray: gray))
    #expect(decodedGray.pixels == gray.pixels.flatMap { [$0, $0, $0] })
    let rgb = try RGBImage(width: 4, height: 2, pixels: (0..<24).map { UInt8(($0 * 37) % 256) })
    #expect(try decodeImage(data: encodePNG(rgb: rgb)) == rgb)
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("zflow-roundtrip-\(getpid()).png")
    defer { try? FileManager.default.removeItem(at: file) }
    try savePNG(rgb: rgb, to: file)
    #expect(try loadImage(file) == rgb)
    #expect(throws: ImageError.self) {
        try savePNG(gray: gray, to: URL(fileURLWithPath: "/nonexistent-dir/x.png"))
    }
}

@Test func imagesRejectMismatchedBuffers() {
    #expect(throws: ImageError.self) { try RGBImage(width: 2, height: 2, pixels: [1, 2, 3]) }
    #expect(throws: ImageError.self) { try GrayImage(width: 0, height: 2, pixels: []) }
    #expect(throws: ImageError.self) { try GrayImage(width: Int.max, height: 2, pixels: [1, 2]) }
}

@Test func overlayTintsInsideAndOutlinesTheEdge() throws {
    let photo = try RGBImage(width: 5, height: 5, pixels: [UInt8](repeating: 100, count: 75))
    var mask = [UInt8](repeating: 0, count: 25)
    for y in 1...3 { for x in 1...3 { mask[y * 5 + x] = 255 } }
    let color = OverlayColor(red: 200, green: 0, blue: 50)
    let result = try overlay(photo, mask: mask, color: color, alpha: 0.5)
    func pixel(_ x: Int, _ y: Int) -> [UInt8] { Array(result.pixels[3 * (y * 5 + x)..<3 * (y * 5 + x) + 3]) }
    #expect(pixel(0, 0) == [100, 100, 100])   // background untouched
    #expect(pixel(1, 1) == [200, 0, 50])      // outline in full colour
    #expect(pixel(2, 2) == [150, 50, 75])     // interior blended half way
    #expect(throws: ImageError.self) { try overlay(photo, mask: [UInt8](repeating: 0, count: 24)) }
    #expect(throws: ImageError.self) { try overlay(photo, mask: mask, alpha: 1.5) }
}
