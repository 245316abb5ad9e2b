// PNG and JPEG decoding against Pillow's `exif_transpose(open(p)).convert("RGB")`.
import Foundation
import Testing
@testable import ZFlowImage

/// Both sides use libjpeg-turbo's islow IDCT and fancy upsampling (system 2.1.5
/// here, Pillow's bundled 3.2.0); measured difference is 0, see docs/parity/images.md.
let jpegTolerance = 0

@Test func pngDecodingEqualsPillowExactly() throws {
    let cases = try Fixtures.manifest().decode.filter { $0.kind == "png" }
    #expect(cases.count >= 20)
    for entry in cases {
        let image = try decodeImage(data: Fixtures.bytes(entry.file), origin: entry.file)
        let expected = try Fixtures.rgb(entry.expected, width: entry.width, height: entry.height)
        try #require(image.width == expected.width && image.height == expected.height,
                     "\(entry.file): \(image.width)x\(image.height) vs Pillow \(expected.width)x\(expected.height)")
        let difference = maxDifference(image, expected)
        #expect(difference == 0, "\(entry.file): max difference \(difference)")
    }
}

@Test func jpegDecodingMatchesPillowWithinTolerance() throws {
    let cases = try Fixtures.manifest().decode.filter { $0.kind == "jpeg" }
    #expect(cases.count >= 15)
    var worst = 0
    for entry in cases {
        let image = try decodeImage(data: Fixtures.bytes(entry.file), origin: entry.file,
                                    applyEXIFOrientation: entry.applyOrientation ?? true)
        let expected = try Fixtures.rgb(entry.expected, width: entry.width, height: entry.height)
        try #require(image.width == expected.width && image.height == expected.height,
                     "\(entry.file): \(image.width)x\(image.height) vs Pillow \(expected.width)x\(expected.height)")
        let difference = maxDifference(image, expected)
        worst = max(worst, difference)
        #expect(difference <= jpegTolerance, "\(entry.file): max difference \(difference)")
    }
    print("JPEG vs Pillow: worst max difference \(worst) over \(cases.count) files")
}

@Test func allEightEXIFOrientationsAreCovered() throws {
    let orientations = Set(try Fixtures.manifest().decode.compactMap(\.orientation))
    #expect(orientations == Set(1...8))
}

@Test func sixteenBitGrayKeepsTheHighByteUnlikePillowsClamp() throws {
    let entry = try #require(try Fixtures.manifest().decode.first { $0.file == "gray16.png" })
    // Pillow's I;16 -> RGB clamps to 255; the fixture's expectation is value >> 8.
    #expect((entry.pillowMaxDifference ?? 0) > 100)
    let image = try decodeImage(data: Fixtures.bytes(entry.file), origin: entry.file)
    #expect(maxDifference(image, try Fixtures.rgb(entry.expected, width: entry.width, height: entry.height)) == 0)
}
