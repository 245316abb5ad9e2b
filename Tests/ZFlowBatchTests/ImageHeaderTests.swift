import Foundation
import Testing
import ZFlowImage

// The header probe behind the dataset check: the size it reads from PNG IHDR / JPEG SOF must
// be the size the decoder produces, for every PNG and JPEG the image tests and the example
// dataset hold (baseline, progressive, EXIF, CMYK, gray...), and a cut file is an error.

private let imageFiles: [URL] = {
    let folders = ["Tests/ZFlowImageTests/Fixtures", "examples/dataset/images", "examples/dataset/masks"]
    return folders.flatMap { folder in
        let url = repositoryRoot.appendingPathComponent(folder)
        return ((try? FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil)) ?? [])
            .filter { ["png", "jpg", "jpeg"].contains($0.pathExtension.lowercased()) }
    }.sorted { $0.path < $1.path }
}()

@Test func headerSizeIsTheDecodedSize() throws {
    var compared = 0
    for url in imageFiles {
        guard let image = try? loadImage(url, applyEXIFOrientation: false) else { continue }
        let header = try ImageHeader(contentsOf: url)
        #expect(header.width == image.width && header.height == image.height, "\(url.lastPathComponent)")
        #expect(header.format == (url.pathExtension.lowercased() == "png" ? "PNG" : "JPEG"), "\(url.lastPathComponent)")
        compared += 1
    }
    #expect(compared >= 30, "only \(compared) images compared")
}

@Test func aHeaderCutShortIsAnErrorNamingTheFile() throws {
    let folder = temporaryFolder("headers")
    defer { try? FileManager.default.removeItem(at: folder) }
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let cut = folder.appendingPathComponent("cut")
    for url in imageFiles.prefix(40) {
        let bytes = try Data(contentsOf: url)
        // Before, inside and after the signature, and inside the PNG IHDR or the first JPEG segments.
        for length in [0, 3, 8, 12, 20, 23] where length < bytes.count {
            try bytes.prefix(length).write(to: cut)
            do {
                _ = try ImageHeader(contentsOf: cut)
                Issue.record("\(url.lastPathComponent) cut at \(length) bytes gave a header")
            } catch let error as ImageError {
                #expect("\(error)".hasPrefix(cut.path + ": "), "\(error)")
            }
        }
    }
    try Data("just text".utf8).write(to: cut)
    #expect(throws: ImageError.unrecognizedFormat(origin: cut.path, found: "text")) {
        try ImageHeader(contentsOf: cut)
    }
    // Only a prefix is read; the message still gives the file's size.
    try Data((0..<100).map { UInt8($0 % 7) }).write(to: cut)
    #expect(throws: ImageError.unrecognizedFormat(origin: cut.path, found: "100 bytes starting with 00 01 02 03 04 05 06 00")) {
        try ImageHeader(contentsOf: cut)
    }
}
