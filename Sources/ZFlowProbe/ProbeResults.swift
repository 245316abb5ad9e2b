import Foundation
import ZFlowBatch

/// probe.json: the grid, the decoders' options and each cell's scores on the val manifest.
public struct ProbeResults: Codable, Equatable, Sendable {
    public struct Cell: Codable, Equatable, Sendable {
        public var tap: Int
        public var t: Int
        /// AP on the val manifest (CLIPSeg protocol, as `zflow eval`); nil when nothing is ever predicted positive.
        public var ap: Double?
        public var foregroundIoU03: Double
        public var meanIoU03: Double
        /// The mean training loss of the last epoch.
        public var trainLoss: Double
    }

    public var grid: ProbeGrid
    public var training: ProbeTraining
    public var trainSamples: Int
    public var valSamples: Int
    public var cells: [Cell]

    public func cell(tap: Int, t: Int) -> Cell? { cells.first { $0.tap == tap && $0.t == t } }

    /// AP by tap (rows) and timestep (columns).
    public var apGrid: [[Double?]] { grid.taps.map { tap in grid.timesteps.map { cell(tap: tap, t: $0)?.ap } } }

    public static func read(_ run: URL) throws -> ProbeResults {
        try RunFiles.read(ProbeResults.self, from: ProbeRunFolder.probeResults(run))
    }

    /// Why some cells' AP should not be trusted, naming them, when any lies outside [0, 1]; nil
    /// otherwise. `zflow probe` says it on stderr and `zflow report` on the page.
    public var apWarning: String? {
        let outside = cells.filter { $0.ap.map { !(0...1).contains($0) } ?? false }
        guard !outside.isEmpty else { return nil }
        let named = outside.map { String(format: "tap %d t=%d %.4f", $0.tap, $0.t, $0.ap ?? 0) }.joined(separator: ", ")
        return "AP lies outside [0, 1] in \(outside.count) of \(cells.count) cells (\(named)): " + Headline.apOvershootReason
    }

    /// The AP table as aligned text: one row per tap, one column per timestep.
    public var table: String {
        let header = ["AP", ] + grid.timesteps.map { "t=\($0)" }
        let rows = zip(grid.taps, apGrid).map { tap, values in
            ["tap \(tap)"] + values.map { $0.map { String(format: "%.4f", $0) } ?? "-" }
        }
        let widths = header.indices.map { i in ([header] + rows).map { $0[i].count }.max() ?? 0 }
        return ([header] + rows).map { line in
            line.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
