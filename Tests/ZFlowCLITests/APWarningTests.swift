import Foundation
import Testing
import ZFlowImage
import ZFlowIO
import ZFlowTensor

/// CLIPSeg's AP (Simpson's rule over the precision-recall points) can leave [0, 1]: eval keeps the
/// protocol's number and warns, and the report's page shows the warning. The predictions are those of a half-trained demo model on 60
/// synthetic samples (245,760 pixels), rebuilt from its per-threshold counts: probability bin
/// (its middle), foreground pixels, background pixels. The protocol's AP of these is 1.6199.
@Suite struct APWarningTests {
    static let bins: [(probability: Float, foreground: Int, background: Int)] = [
        (0.05, 0, 1868), (0.07, 227, 128_055), (0.09, 136, 53333), (0.11, 49, 4145), (0.13, 52, 1380), (0.15, 47, 1019),
        (0.17, 36, 793), (0.19, 39, 736), (0.21, 26, 639), (0.23, 29, 618), (0.25, 22, 569), (0.27, 27, 531), (0.29, 32, 512),
        (0.31, 24, 569), (0.33, 29, 535), (0.35, 37, 501), (0.37, 42, 524), (0.39, 51, 559), (0.41, 49, 591), (0.43, 47, 636),
        (0.45, 56, 664), (0.47, 71, 745), (0.49, 88, 873), (0.51, 132, 1153), (0.53, 399, 2015), (0.55, 3229, 6787),
        (0.57, 5075, 10418), (0.59, 1364, 2331), (0.61, 39, 379), (0.63, 53, 466), (0.65, 83, 551), (0.67, 355, 1528),
        (0.69, 2881, 4842), (0.71, 5, 56), (0.73, 0, 8),
    ]

    @Test func anAPOutsideZeroToOneIsReportedWithAWarning() throws {
        let folder = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        var probabilities: [Float] = [], foreground: [Bool] = []
        for bin in Self.bins {
            probabilities += [Float](repeating: bin.probability, count: bin.foreground + bin.background)
            foreground += [Bool](repeating: true, count: bin.foreground) + [Bool](repeating: false, count: bin.background)
        }
        let width = 512, height = probabilities.count / width
        #expect(height * width == probabilities.count)
        let logits = probabilities.map { log($0 / (1 - $0)) }
        try writeSafeTensors(["thing": Tensor(shape: [1, 1, height, width], scalars: logits)],
                             to: folder.appendingPathComponent("a.safetensors"))
        try savePNG(gray: GrayImage(width: width, height: height, pixels: foreground.map { $0 ? 255 : 0 }),
                    to: folder.appendingPathComponent("mask.png"))
        try #"{"id": "s", "image": "a.safetensors", "phrase": "thing", "mask": "mask.png"}"#
            .appending("\n").write(to: folder.appendingPathComponent("m.jsonl"), atomically: true, encoding: .utf8)
        let graph = CLI.packageRoot.appendingPathComponent("Tests/ZFlowCLITests/Fixtures/eval-shards/stub-logits.zflow").path
        let result = try CLI.run(["eval", graph, "--dataset", "m.jsonl", "-o", "e", "--quiet", "--memory-only"], in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("1.6199"), "\(result.stdout)")
        #expect(result.stderr.contains("warning: point 0: AP 1.6199 lies outside [0, 1]"), "\(result.stderr)")

        // The report's page shows the same warning under its table.
        let report = try CLI.run(["report", "e", "-o", "page.html"], in: folder)
        #expect(report.status == 0, "\(report.stderr)")
        let page = try String(contentsOf: folder.appendingPathComponent("page.html"), encoding: .utf8)
        let warning = try #require(result.stderr.split(separator: "\n").first { $0.hasPrefix("warning: point 0: AP") })
        #expect(page.contains("</table>\n<ul class=\"warnings\"><li>"
                              + String(warning).replacingOccurrences(of: "\"", with: "&quot;") + "</li></ul>"), "\(page)")
    }
}
