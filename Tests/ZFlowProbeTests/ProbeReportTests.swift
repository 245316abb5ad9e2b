import Foundation
import Testing
import ZFlowBatch
import ZFlowImage
import ZFlowProbe

/// `zflow report RUN` on a probe run: the AP heatmap as a PNG and a page with the table.
@Suite struct ProbeReportTests {
    @Test func heatmapIsDrawn() async throws {
        let workspace = try ProbeFixture.Workspace(train: 2, val: 2)
        defer { workspace.remove() }
        let run = workspace.run("r")
        let results = try #require(try await workspace.probe(run).results)
        #expect(ProbeReport.isProbeRun(run))
        let page = workspace.folder.appendingPathComponent("report.html")
        try ProbeReport.write(run, page: page)

        let png = try loadImage(ProbeReport.heatmapFile(run), applyEXIFOrientation: false)
        #expect(png.width > 200 && png.height > 150)
        // The ramp's ends are in the picture: the highest AP cell yellow, the lowest dark blue.
        let colors = Set(stride(from: 0, to: png.pixels.count, by: 3).map {
            [png.pixels[$0], png.pixels[$0 + 1], png.pixels[$0 + 2]]
        })
        let aps = results.cells.compactMap(\.ap)
        if Set(aps).count > 1 {
            #expect(colors.contains([253, 231, 37]) && colors.contains([68, 1, 84]))
        }
        let html = try String(contentsOf: page, encoding: .utf8)
        #expect(html.contains("src=\"data:image/png;base64,iVBORw0KGgo"))
        #expect(html.components(separatedBy: "<tr>").count - 1 == 1 + results.grid.taps.count)
        for cell in results.cells { #expect(html.contains(cell.ap.map { String(format: "%.4f", $0) } ?? "-")) }
    }

    /// A cell whose AP left [0, 1] (the protocol's Simpson rule on few, bunched predictions: a
    /// full-size probe with one val sample gave 1.2162) is named in the warning, and the page says it.
    @Test func apOutsideZeroToOneIsWarnedNamingTheCell() async throws {
        let workspace = try ProbeFixture.Workspace(train: 2, val: 2)
        defer { workspace.remove() }
        let run = workspace.run("r")
        var results = try #require(try await workspace.probe(run).results)
        for index in results.cells.indices { results.cells[index].ap = 0.5 }
        #expect(results.apWarning == nil)
        let cell = results.cells[results.cells.count - 1]
        results.cells[results.cells.count - 1].ap = 1.2162
        let warning = try #require(results.apWarning)
        #expect(warning.hasPrefix("AP lies outside [0, 1] in 1 of \(results.cells.count) cells (tap \(cell.tap) t=\(cell.t) 1.2162): "),
                "\(warning)")
        #expect(warning.hasSuffix(Headline.apOvershootReason))

        try RunFiles.write(results, to: run.appendingPathComponent("probe.json"))
        let page = workspace.folder.appendingPathComponent("report.html")
        try ProbeReport.write(run, page: page)
        #expect(try String(contentsOf: page, encoding: .utf8).contains("tap \(cell.tap) t=\(cell.t) 1.2162"))
    }

    @Test func heatmapMarksMissingValues() throws {
        let png = try HeatmapImage.png(title: "AP by tap x t", rowLabel: "tap", columnLabel: "t", rows: ["tap 1", "tap 2"],
                                       columns: ["t=100"], values: [[0.5], [nil]])
        let image = try decodeImage(data: png)
        let colors = Set(stride(from: 0, to: image.pixels.count, by: 3).map {
            [image.pixels[$0], image.pixels[$0 + 1], image.pixels[$0 + 2]]
        })
        // One value: the top of the ramp; the missing cell grey.
        #expect(colors.contains([253, 231, 37]) && colors.contains([0xee, 0xee, 0xee]))
    }
}
