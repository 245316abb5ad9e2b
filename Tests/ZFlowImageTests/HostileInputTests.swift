// Damaged, truncated, empty, mislabelled and oversized inputs: always a thrown
// ImageError naming the origin, never a crash.
import Foundation
import Testing
import ZFlowIO
import ZFlowTestSupport
@testable import ZFlowImage

private let encodedFixtures = ["gray8.png", "palette4_interlaced.png", "rgba16_interlaced.png", "rgb8_exif6.png",
                               "baseline420.jpg", "progressive.jpg", "gray.jpg", "cmyk.jpg", "exif6_le.jpg"]

/// Offset just past the last IDAT chunk: PNG cuts at or after it keep all pixels.
private func endOfImageData(_ png: [UInt8]) -> Int {
    var position = 8, end = 8
    while position + 8 <= png.count {
        let length = png[position..<position + 4].reduce(0) { $0 << 8 | Int($1) }
        let type = String(decoding: png[position + 4..<position + 8], as: UTF8.self)
        position += 12 + length
        if type == "IDAT" { end = position }
    }
    return end
}

@Test func truncatedFilesThrow() throws {
    for name in encodedFixtures {
        let data = try Fixtures.bytes(name)
        let complete = try decodeImage(data: data, origin: name)
        let mustFailBefore = name.hasSuffix(".png") ? endOfImageData(data) : data.count
        for cut in 0..<data.count {
            let prefix = Array(data[..<cut])
            if cut < mustFailBefore {
                #expect(throws: ImageError.self, "\(name) cut at \(cut)") {
                    try decodeImage(data: prefix, origin: name)
                }
            } else {
                // Only chunks after the image data are missing: Pillow decodes these too.
                #expect(try decodeImage(data: prefix, origin: name) == complete, "\(name) cut at \(cut)")
            }
        }
    }
}

@Test func corruptedBytesNeverCrash() throws {
    var generator = SeededGenerator(seed: 42)
    var outcomes = (thrown: 0, decoded: 0)
    for name in encodedFixtures {
        let original = try Fixtures.bytes(name)
        for _ in 0..<300 {
            var data = original
            for _ in 0..<Int(generator.next() % 4 + 1) {
                let index = Int(generator.next() % UInt64(data.count))
                data[index] = UInt8(truncatingIfNeeded: generator.next())
            }
            do {
                let image = try decodeImage(data: data, origin: name)
                #expect(image.pixels.count == image.width * image.height * 3)
                outcomes.decoded += 1
            } catch is ImageError {
                outcomes.thrown += 1
            }
        }
    }
    print("corrupted inputs: \(outcomes.thrown) thrown, \(outcomes.decoded) decoded (damage in pixel data)")
    #expect(outcomes.thrown > 0)
}

@Test func emptyAndForeignDataNameWhatWasFound() throws {
    #expect(throws: ImageError.unrecognizedFormat(origin: "empty.png", found: "an empty file")) {
        try decodeImage(data: [], origin: "empty.png")
    }
    let gif = try Fixtures.url("not_supported.gif")
    do {
        _ = try loadImage(gif)
        Issue.record("GIF decoded")
    } catch let error as ImageError {
        #expect(error.description.contains(gif.path) && error.description.contains("GIF data"), "\(error)")
    }
    #expect(throws: ImageError.self) { try decodeImage(data: Array("hello world".utf8)) }
    #expect(throws: PathProblem.self) { try loadImage(URL(fileURLWithPath: "/nonexistent/zflow.png")) }
}

@Test func headersDeclaringAbsurdSizesAreRefused() throws {
    for entry in try Fixtures.manifest().hostile {
        do {
            _ = try decodeImage(data: Fixtures.bytes(entry.file), origin: entry.file)
            Issue.record("\(entry.file) decoded")
        } catch let error as ImageError {
            switch (entry.error, error) {
            case ("tooLarge", .tooLarge), ("corrupt", .corrupt), ("unrecognizedFormat", .unrecognizedFormat): break
            default: Issue.record("\(entry.file): expected \(entry.error), got \(error)")
            }
            #expect(error.description.contains(entry.file))
        }
    }
    #expect(throws: ImageError.self) {
        try decodeImage(data: Fixtures.bytes("baseline420.jpg"), maxPixels: 40 * 30 - 1)
    }
    #expect(try decodeImage(data: Fixtures.bytes("baseline420.jpg"), maxPixels: 40 * 30).width == 40)
}

@Test func errorMessagesNameFileAndProblem() throws {
    func message(_ data: [UInt8], _ origin: String) -> String {
        do {
            _ = try decodeImage(data: data, origin: origin)
            return "decoded"
        } catch {
            return "\(error)"
        }
    }
    #expect(message(try Fixtures.bytes("huge_dimensions.png"), "huge.png")
        == "huge.png: image too large: the PNG header declares 100000x100000 pixels, more than the limit of 89478485")
    #expect(message(try Fixtures.bytes("huge_dimensions.jpg"), "huge.jpg")
        == "huge.jpg: image too large: the JPEG header declares 65500x65500 pixels, more than the limit of 89478485")
    let png = try Fixtures.bytes("gray8.png")
    #expect(message(Array(png.prefix(60)), "cut.png") == "cut.png: invalid PNG data: unexpected end of data (file truncated)")
    let jpeg = try Fixtures.bytes("baseline420.jpg")
    #expect(message(Array(jpeg.dropLast(2)), "cut.jpg") == "cut.jpg: invalid JPEG data: Premature end of JPEG file")
    #expect(message(try Fixtures.bytes("not_supported.gif"), "a.gif") == "a.gif: not a PNG or JPEG image (found GIF data)")
    #expect(message(Array("hello".utf8), "b.png") == "b.png: not a PNG or JPEG image (found text)")
    #expect(message([0x68, 0x65, 0x00, 0x6c, 0xff], "c.png")
        == "c.png: not a PNG or JPEG image (found 5 bytes starting with 68 65 00 6c ff)")
}

@Test func malformedEXIFIsIgnoredNotTrusted() throws {
    let valid: [UInt8] = [0x49, 0x49, 0x2A, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0]
    #expect(exifOrientationTag(valid) == .present(6))
    #expect(exifOrientationTag(exifHeader + exifHeader + valid) == .present(6))
    #expect(exifOrientationTag(exifHeader + exifHeader + exifHeader + valid) == .absent)
    for cut in 0..<20 { #expect(exifOrientationTag(Array(valid[..<cut])) == .absent) }
    var farOffset = valid
    farOffset[4] = 0xFF; farOffset[7] = 0x7F  // IFD beyond the payload
    #expect(exifOrientationTag(farOffset) == .absent)
    var manyEntries = valid
    manyEntries[8] = 0xFF; manyEntries[9] = 0xFF  // 65535 entries declared, 1 present
    #expect(exifOrientationTag(manyEntries) == .present(6))
    var outOfLine = valid
    outOfLine[14] = 0xFF; outOfLine[15] = 0xFF; outOfLine[16] = 0xFF; outOfLine[17] = 0xFF  // count 2^32-1
    #expect(exifOrientationTag(outOfLine) == .absent)
    var byteTyped = valid
    byteTyped[12] = 1  // BYTE: Pillow reads bytes, not a number (and does not fall back to XMP)
    #expect(exifOrientationTag(byteTyped) == .present(nil))
    let xmp = Array(#"<rdf:Description tiff:Orientation="3"/>"#.utf8)
    #expect(pillowOrientation(exif: byteTyped, exifProfile: nil, xmp: xmp) == nil)
    #expect(pillowOrientation(exif: nil, exifProfile: nil, xmp: xmp) == 3)
    #expect(xmpOrientation(Array("tiff:Orientation=3 tiff:Orientation>4".utf8)) == 4)
    #expect(xmpOrientation(Array("tiff:Orientation=\"".utf8)) == nil)
    #expect(decodeRawExifProfile(Array("\nexif\n  2\n0a ff\n".utf8)) == [0x0A, 0xFF])
    #expect(decodeRawExifProfile(Array("\nexif\n  2\n0a f\n".utf8)) == nil)
    #expect(decodeRawExifProfile(Array("\nexif\n  2\n0x".utf8)) == nil)
    // Random IFD entries (half of them Orientation, random types, counts, offsets) behind a
    // valid TIFF header, cut at random lengths: any answer, but no trap.
    var generator = SeededGenerator(seed: 7)
    var outcomes: [OrientationTag: Int] = [:]
    for _ in 0..<20_000 {
        var payload: [UInt8] = [0x49, 0x49, 0x2A, 0, 8, 0, 0, 0, UInt8(generator.next() % 4), 0]
        for _ in 0..<3 {
            let tag: [UInt8] = generator.next() % 2 == 0 ? [0x12, 0x01] : [0x10, 0x01]
            let type = UInt8(generator.next() % 18)
            let count: [UInt8] = generator.next() % 3 == 0 ? [0xFF, 0xFF, 0xFF, 0xFF] : [UInt8(generator.next() % 4), 0, 0, 0]
            let value = (0..<4).map { _ in UInt8(truncatingIfNeeded: generator.next() % 40) }
            payload += tag + [type, 0] + count + value
        }
        payload = Array(payload.prefix(8 + Int(generator.next() % UInt64(payload.count - 7))))
        outcomes[exifOrientationTag(payload), default: 0] += 1
    }
    #expect(outcomes.count > 3, "\(outcomes)")
    // Orientation values outside 1...8 leave the image alone.
    let image = try RGBImage(width: 2, height: 1, pixels: [1, 2, 3, 4, 5, 6])
    #expect(image.applyingEXIFOrientation(0) == image && image.applyingEXIFOrientation(9) == image)
}

