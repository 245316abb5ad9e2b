import Foundation
import ZFlowGraph
import ZFlowImage

/// `Image` ports: PNG bytes (lossless), the original size in a 16-byte prefix for the cache.
struct ImageCodec: PortCodec {
    func encode(_ value: any Sendable) throws -> Data {
        let image = try imageValue(value)
        var data = Data()
        for number in [image.originalWidth, image.originalHeight] {
            withUnsafeBytes(of: Int64(number).littleEndian) { data.append(contentsOf: $0) }
        }
        data.append(contentsOf: try encodePNG(rgb: image.image))
        return data
    }

    func decode(_ data: Data) throws -> any Sendable {
        guard data.count > 16 else { throw NodeError("cached image is truncated") }
        let bytes = [UInt8](data)
        func number(at offset: Int) -> Int {
            Int((0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) })
        }
        let image = try decodeImage(data: Array(bytes[16...]), origin: "cached image")
        return ImageValue(image, originalWidth: number(at: 0), originalHeight: number(at: 8))
    }

    func export(_ value: any Sendable, name: String) throws -> Data {
        Data(try encodePNG(rgb: try imageValue(value).image))
    }

    var exportExtension: String { "png" }

    func byteCount(of value: any Sendable) -> Int { TensorFileForm.byteCount(of: value) }

    private func imageValue(_ value: any Sendable) throws -> ImageValue {
        guard let image = value as? ImageValue else { throw NodeError("a \(type(of: value)) is not an image") }
        return image
    }
}
