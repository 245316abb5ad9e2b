import ZFlowBatch
import ZFlowGraph

/// The points of `zflow train --grid`: the graph-param axes are a `SweepGrid` (parsed and
/// checked as `zflow sweep` does), and the axis `seed` is the training seed (`--seed`), not a
/// graph param. Points are numbered variant by variant: the graph-param points in the sweep's
/// order (the first axis varies slowest), each with every seed in turn.
public struct TrainingGrid: Sendable {
    public struct Point: Sendable {
        public let index: Int
        /// The run folder's name: every axis as `name=value`, in the order the axes were given.
        public let folder: String
        /// The graph params this point sets.
        public let settings: [String: Constant]
        /// The training seed, when `seed` is an axis.
        public let seed: Int?
        /// Axis name -> value as written.
        public let params: [String: String]
    }

    /// Every axis in the order given, `seed` included.
    public let axes: [GridAxis]
    /// The graph-param axes.
    public let sweep: SweepGrid
    public let points: [Point]

    public var hasSeedAxis: Bool { axes.contains { $0.name == TrainingGridDescription.seedAxis } }

    public init(_ options: [String], graph: CheckedGraph) throws {
        var seeds: GridAxis?, order: [String] = [], paramOptions: [String] = []
        for option in options {
            let (name, texts) = try SweepGrid.split(option)
            order.append(name)
            guard name == TrainingGridDescription.seedAxis else {
                paramOptions.append(option)
                continue
            }
            guard seeds == nil else { throw BatchError("--grid seed is given twice") }
            var numbers: Set<Int> = []
            for text in texts {
                guard let number = Int(text) else {
                    throw BatchError("--grid seed=\(text): '\(text)' is not an integer (the axis seed is the training seed, --seed)")
                }
                guard numbers.insert(number).inserted else { throw BatchError("--grid seed: the seed \(number) is given twice") }
            }
            seeds = GridAxis(name: name, texts: texts)
        }
        let sweep = try SweepGrid(paramOptions, graph: graph)
        self.sweep = sweep
        axes = order.map { name in name == TrainingGridDescription.seedAxis ? seeds! : sweep.axes.first { $0.name == name }! }
        let seedTexts: [String?] = seeds?.texts ?? [nil]
        points = sweep.points.flatMap { variant in
            seedTexts.map { seed in (variant, seed) }
        }.enumerated().map { index, pair in
            let (variant, seed) = pair
            var params = Dictionary(uniqueKeysWithValues: variant.texts.map { ($0.name, $0.text) })
            params[TrainingGridDescription.seedAxis] = seed
            let folder = TrainingGridFiles.folderName(order.map { ($0, params[$0]!) })
            return Point(index: index, folder: folder, settings: variant.values, seed: seed.flatMap { Int($0) }, params: params)
        }
    }

    /// grid.json's content.
    var description: TrainingGridDescription {
        TrainingGridDescription(axes: axes, points: points.map { .init(index: $0.index, folder: $0.folder, params: $0.params) })
    }
}
