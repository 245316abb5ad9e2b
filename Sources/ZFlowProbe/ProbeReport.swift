import Foundation
import ZFlowBatch

/// `zflow report RUN` for a probe run: the taps x timesteps heatmap of AP as RUN/probe-ap.png and
/// an HTML page with it and the table.
public enum ProbeReport {
    public static func isProbeRun(_ run: URL) -> Bool {
        FileManager.default.fileExists(atPath: ProbeRunFolder.probeResults(run).path)
    }

    public static func heatmapFile(_ run: URL) -> URL { run.appendingPathComponent("probe-ap.png") }

    /// Writes the heatmap into the run folder and the page to `page`.
    public static func write(_ run: URL, page: URL) throws {
        let results = try ProbeResults.read(run)
        let rows = results.grid.taps.map { "tap \($0)" }, columns = results.grid.timesteps.map { "t=\($0)" }
        let png = try HeatmapImage.png(title: "AP by tap x t", rowLabel: "tap", columnLabel: "t", rows: rows, columns: columns,
                                       values: results.apGrid)
        try Data(png).write(to: heatmapFile(run), options: .atomic)
        let training = results.training
        let intro = "zflow probe: one text-conditioned decoder per SD tap and timestep, trained on \(results.trainSamples) samples "
            + "(seeds \(results.grid.seeds.map(String.init).joined(separator: ",")); \(training.epochs) epoch(s), AdamW lr "
            + "\(training.learningRate), weight decay \(training.weightDecay), hidden \(training.hidden), seed \(training.seed)), "
            + "AP on \(results.valSamples) val samples (CLIPSeg protocol, as zflow eval)."
            + (results.apWarning.map { " Warning: " + $0 + "." } ?? "")
        try GridReport.page(title: "ZFlow probe: AP by tap and timestep", intro: intro, rowLabel: "tap", columnLabel: "t",
                            rows: rows, columns: columns, values: results.apGrid, heatmap: png)
            .write(to: page, atomically: true, encoding: .utf8)
    }
}
