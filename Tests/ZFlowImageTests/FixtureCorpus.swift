// Loads the Pillow-generated corpus (tools/fixtures/images.py) from the test bundle.
import Foundation
import Testing
@testable import ZFlowImage

struct FixtureManifest: Decodable {
    struct DecodeCase: Decodable {
        let file: String
        let expected: String
        let width: Int
        let height: Int
        let kind: String
        let orientation: Int?
        let applyOrientation: Bool?
        let pillowMaxDifference: Int?
    }
    struct ResizeCase: Decodable {
        let input: String
        let width: Int
        let height: Int
        let expected: String
        let newWidth: Int
        let newHeight: Int
    }
    struct PipelineSizeCase: Decodable {
        let width: Int
        let height: Int
        let newWidth: Int
        let newHeight: Int
        let valid: Bool
    }
    struct PrepareCase: Decodable {
        let input: String
        let width: Int
        let height: Int
        let side: Int
        let expected: String
        let key: String
    }
    struct HostileCase: Decodable {
        let file: String
        let error: String
    }
    let decode: [DecodeCase]
    let resize: [ResizeCase]
    let pipelineSizes: [PipelineSizeCase]
    let prepare: [PrepareCase]
    let hostile: [HostileCase]
}

enum Fixtures {
    static func url(_ name: String) throws -> URL {
        let directory = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        return directory.appendingPathComponent(name)
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: url(name)))
    }

    static func manifest() throws -> FixtureManifest {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(FixtureManifest.self, from: Data(contentsOf: url("manifest.json")))
    }

    /// An RGB image stored as raw interleaved bytes, or as PNG.
    static func rgb(_ name: String, width: Int, height: Int) throws -> RGBImage {
        if name.hasSuffix(".png") {
            return try decodeImage(data: bytes(name), origin: name)
        }
        return try RGBImage(width: width, height: height, pixels: bytes(name))
    }
}

/// Largest per-sample difference between two images (Int.max when their sizes differ).
func maxDifference(_ a: RGBImage, _ b: RGBImage) -> Int {
    guard a.width == b.width, a.height == b.height else { return Int.max }
    return zip(a.pixels, b.pixels).reduce(0) { max($0, abs(Int($1.0) - Int($1.1))) }
}
