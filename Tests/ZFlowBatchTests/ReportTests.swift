import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import ZFlowBatch

/// Counts the elements of well-formed XML; nil when it does not parse.
private final class ElementCounter: NSObject, XMLParserDelegate {
    var counts: [String: Int] = [:]
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        counts[name, default: 0] += 1
    }

    static func count(_ xml: String) -> [String: Int]? {
        let counter = ElementCounter()
        let parser = XMLParser(data: Data(xml.utf8))
        parser.delegate = counter
        return parser.parse() ? counter.counts : nil
    }
}

private func occurrences(_ needle: String, in text: String) -> Int {
    text.components(separatedBy: needle).count - 1
}

@Test func reportHasTableChartsAndOverlays() async throws {
    let registry = try testRegistry()
    let graph = try stubGraph(registry)
    let folder = temporaryFolder("report")
    defer { try? FileManager.default.removeItem(at: folder) }
    let manifest = try subsetManifest(["horse", "shapes-cat-red-circle", "horse-on-rocket"], in: folder.appendingPathComponent("data"))
    let output = folder.appendingPathComponent("out")
    var config = try configuration(graph, manifest: manifest, grid: ["t=100,300", "fusion=cross_attention,concat"], output: output)
    config.examples = 2
    _ = try await BatchRunner(engine: memoryEngine(registry)).run(config)

    let page = try HTMLReport.render(folder: output)
    #expect(page.hasPrefix("<!DOCTYPE html>") && page.hasSuffix("</html>\n"))
    // The results table: a header and one row per point.
    #expect(occurrences("<table class=\"results\">", in: page) == 1)
    let table = try #require(page.components(separatedBy: "<table class=\"results\">").last?.components(separatedBy: "</table>").first)
    #expect(occurrences("<tr>", in: table) == 5)
    // AP warnings appear only for an AP outside [0, 1] (APWarningTests has one).
    #expect(try RunFiles.read([ResultRow].self, from: RunFiles.resultsJSON(output)).allSatisfy { row in
        row.headline?.ap.map { (0...1).contains($0) } ?? true
    })
    #expect(!page.contains("class=\"warnings\""))
    // Two line charts (t, fusion), two heatmaps (AP, mIoU), one precision-recall chart; each well-formed SVG.
    let svgs = page.components(separatedBy: "<svg ").dropFirst().map { "<svg " + $0.components(separatedBy: "</svg>")[0] + "</svg>" }
    #expect(svgs.count == 5)
    var cells = 0, polylines = 0
    for svg in svgs {
        let counts = try #require(ElementCounter.count(svg), "not well-formed: \(svg.prefix(200))")
        cells += counts["rect", default: 0] > 0 ? occurrences("class=\"cell\"", in: svg) : 0
        polylines += counts["polyline", default: 0]
    }
    #expect(cells == 2 * 4)
    #expect(polylines == 3 + 3 + 4)
    #expect(occurrences("metrics vs t (mean over others)", in: page) == 1)
    // Overlays: the truth and the 4 points for the 2 example samples, as PNG data URIs.
    #expect(occurrences("src=\"data:image/png;base64,iVBORw0KGgo", in: page) == 2 * 5)
    #expect(!page.contains("src=\"http") && !page.contains("<script"))
}
