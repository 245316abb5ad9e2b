import Foundation

/// The files of a `zflow train --grid` folder, written by the trainer and read by the report:
///   run.json            the grid's identity (RunIdentity: graph, dataset, --set, the axes, the options)
///   grid.json           the points (TrainingGridDescription): index, folder, values
///   <folder>/           one `zflow train` run folder per point, e.g. `fusion=concat,seed=1/`
///   <folder>/eval.json  the point's evaluation on --val at its last step (PointEvaluation)
public enum TrainingGridFiles {
    public static func description(_ folder: URL) -> URL { folder.appendingPathComponent("grid.json") }
    public static func evaluation(_ point: URL) -> URL { point.appendingPathComponent("eval.json") }

    /// Whether `folder` holds a training grid (the trainer's grid.json).
    public static func isGrid(_ folder: URL) -> Bool {
        FileManager.default.fileExists(atPath: description(folder).path)
    }

    /// The folder name of a point: `name=value` per axis, in the axes' order, joined by commas.
    /// Characters that are not safe in a file name (and `%`, `=`, `,` inside a value) are
    /// percent-encoded, so that distinct points always get distinct folders.
    public static func folderName(_ values: [(name: String, text: String)]) -> String {
        values.map { "\(encoded($0.name))=\(encoded($0.text))" }.joined(separator: ",")
    }

    private static func encoded(_ text: String) -> String {
        text.utf8.map { byte in
            let character = Character(Unicode.Scalar(byte))
            let safe = byte < 0x80 && (character.isLetter || character.isNumber || "._-+".contains(character))
            return safe ? String(character) : String(format: "%%%02X", byte)
        }.joined()
    }
}

/// grid.json: the axes as given (`seed` is the training seed) and every point, variant by variant.
public struct TrainingGridDescription: Codable, Equatable, Sendable {
    public struct Point: Codable, Equatable, Sendable {
        public var index: Int
        /// The point's run folder, relative to the grid's folder.
        public var folder: String
        /// Axis name -> value as written on the command line.
        public var params: [String: String]

        public init(index: Int, folder: String, params: [String: String]) {
            self.index = index
            self.folder = folder
            self.params = params
        }
    }

    /// The axis of the training seed, which the report groups over.
    public static let seedAxis = "seed"

    public var axes: [GridAxis]
    public var points: [Point]

    public init(axes: [GridAxis], points: [Point]) {
        self.axes = axes
        self.points = points
    }
}

/// eval.json: a point's evaluation with the eval protocol on --val after its last step, with the
/// EMA weights, stamped with the digests of the point's run and of the grid it belongs to, so
/// that the report never takes a number for a run it does not describe.
public struct PointEvaluation: Codable, Equatable, Sendable {
    /// `RunIdentity.digest` of the point's run.json.
    public var run: String
    /// `RunIdentity.digest` of the grid's run.json.
    public var grid: String
    public var step: Int
    /// `ema`.
    public var weights: String
    public var samples: Int
    public var metrics: Headline

    public init(run: String, grid: String, step: Int, weights: String, samples: Int, metrics: Headline) {
        self.run = run
        self.grid = grid
        self.step = step
        self.weights = weights
        self.samples = samples
        self.metrics = metrics
    }
}
