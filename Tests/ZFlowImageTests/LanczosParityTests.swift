// Lanczos resampling against Pillow's `Image.resize(size, Image.LANCZOS)`, and the
// pipeline preparation against the reference's size rule and normalisation.
import Foundation
import Testing
import ZFlowIO
import ZFlowTensor
import ZFlowTestSupport
@testable import ZFlowImage

@Test func lanczosEqualsPillowExactly() throws {
    let cases = try Fixtures.manifest().resize
    #expect(cases.count >= 8)
    for entry in cases {
        let source = try Fixtures.rgb(entry.input, width: entry.width, height: entry.height)
        let expected = try Fixtures.rgb(entry.expected, width: entry.newWidth, height: entry.newHeight)
        let resized = try source.resizedLanczos(width: entry.newWidth, height: entry.newHeight)
        try #require(resized.width == expected.width && resized.height == expected.height)
        let difference = maxDifference(resized, expected)
        print("Lanczos \(entry.width)x\(entry.height) -> \(entry.newWidth)x\(entry.newHeight): max difference \(difference)")
        #expect(difference == 0, "\(entry.input): max difference \(difference)")
    }
}

@Test func lanczosRejectsEmptyTargets() throws {
    let image = try RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 9, count: 12))
    #expect(throws: ImageError.self) { try image.resizedLanczos(width: 0, height: 5) }
    #expect(throws: ImageError.self) { try image.resizedLanczos(width: Int.max, height: 3) }
    #expect(throws: ImageError.self) { try image.resizedLanczos(width: 100_000, height: 100_000) }
    #expect(throws: ImageError.self) { try pipelineSize(width: 512, height: 512, side: Int.max) }
}

@Test func pipelineSizeFollowsTheReferenceRule() throws {
    let cases = try Fixtures.manifest().pipelineSizes
    #expect(cases.contains { !$0.valid } && cases.contains { $0.valid })
    for entry in cases {
        if entry.valid {
            let size = try pipelineSize(width: entry.width, height: entry.height)
            #expect(size.width == entry.newWidth && size.height == entry.newHeight,
                    "\(entry.width)x\(entry.height) -> \(size), reference \(entry.newWidth)x\(entry.newHeight)")
        } else {
            #expect(throws: ImageError.self, "\(entry.width)x\(entry.height)") {
                try pipelineSize(width: entry.width, height: entry.height)
            }
        }
    }
    #expect(try pipelineSize(width: 512, height: 512) == (384, 384))
}

@Test func preparedTensorEqualsReference() throws {
    for entry in try Fixtures.manifest().prepare {
        let source = try Fixtures.rgb(entry.input, width: entry.width, height: entry.height)
        let prepared = try source.preparedForPipeline(side: entry.side)
        let expected = try SafeTensorsFile(contentsOf: Fixtures.url(entry.expected)).tensor(entry.key)
        let report = compare(prepared, expected, atol: 0, rtol: 0, name: "prepare \(entry.input)")
        print(report)
        #expect(report.passes, "\(report)")
    }
}

@Test func tensorIsNCHWInUnitRange() throws {
    let image = try RGBImage(width: 2, height: 1, pixels: [0, 51, 255, 102, 153, 204])
    let tensor = image.unitRangeTensor()
    #expect(tensor.shape == [1, 3, 1, 2])
    #expect(tensor.scalars == [0, Float(102) / 255, Float(51) / 255, Float(153) / 255, 1, Float(204) / 255])
}
