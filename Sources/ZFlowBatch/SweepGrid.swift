import ZFlowGraph

// The cartesian product of `--grid NAME=V1,V2,...` axes; values are parsed by the param's
// declared type. The first axis varies slowest.

public struct GridAxis: Sendable, Equatable, Codable {
    public let name: String
    /// The values as written on the command line (for tables and charts).
    public let texts: [String]

    public init(name: String, texts: [String]) {
        self.name = name
        self.texts = texts
    }
}

public struct GridPoint: Sendable {
    public let index: Int
    /// Param name -> value, in axis order.
    public let texts: [(name: String, text: String)]
    public let values: [String: Constant]
}

public struct SweepGrid: Sendable {
    public let axes: [GridAxis]
    public let points: [GridPoint]

    /// Parses the `--grid` options against `graph`'s params; no axes gives one point.
    public init(_ options: [String], graph: CheckedGraph) throws {
        var axes: [GridAxis] = [], parsed: [[Constant]] = []
        for option in options {
            let (name, texts) = try Self.split(option)
            guard let param = graph.param(named: name) else {
                throw BatchError("--grid \(name): \(graph.source.name) has no parameter '\(name)' (it has: "
                    + graph.params.map(\.name).joined(separator: ", ") + ")")
            }
            guard !axes.contains(where: { $0.name == name }) else { throw BatchError("--grid \(name) is given twice") }
            parsed.append(try texts.map { text in
                do { return try Constant.parse(text, as: param.type) } catch {
                    throw BatchError("--grid \(name)=\(text): \(error)")
                }
            })
            axes.append(GridAxis(name: name, texts: texts))
        }
        self.axes = axes
        var combinations: [[Int]] = [[]]
        for axis in parsed {
            combinations = combinations.flatMap { prefix in axis.indices.map { prefix + [$0] } }
        }
        points = combinations.enumerated().map { index, choice in
            GridPoint(index: index,
                      texts: zip(axes, choice).map { ($0.name, $0.texts[$1]) },
                      values: Dictionary(uniqueKeysWithValues: zip(axes, zip(parsed, choice)).map { ($0.name, $1.0[$1.1]) }))
        }
    }
}

extension SweepGrid {
    /// One `--grid NAME=V1,V2,...` option as its name and its values (trimmed): refuses a
    /// missing name, an empty value list and a value given twice.
    public static func split(_ option: String) throws -> (name: String, texts: [String]) {
        guard let equals = option.firstIndex(of: "="), equals != option.startIndex else {
            throw BatchError("--grid expects NAME=V1,V2,..., got '\(option)'")
        }
        let name = String(option[..<equals])
        let texts = option[option.index(after: equals)...].split(separator: ",").map {
            String($0).trimmingCharacters(in: .whitespaces)
        }
        guard !texts.isEmpty else { throw BatchError("--grid \(name): the list of values is empty (expected \(name)=V1,V2,...)") }
        if let repeated = texts.enumerated().first(where: { texts[..<$0.offset].contains($0.element) })?.element {
            throw BatchError("--grid \(name): the value '\(repeated)' is given twice")
        }
        return (name, texts)
    }

    /// Checks the settings, then every grid value with them, against the ranges and choices of
    /// the arguments each param feeds: throws `GraphDiagnostics` with every violation, so that
    /// no point runs when one of them cannot.
    public func checkConstraints(_ graph: CheckedGraph, settings: [String: Constant]) throws {
        _ = try graph.parameterValues(settings)
        var diagnostics: [Diagnostic] = [], seen = Set<String>()
        for point in points {
            for (name, text) in point.texts where seen.insert(name + "=" + text).inserted {
                guard let value = point.values[name] else { continue }
                do {
                    _ = try graph.parameterValues(settings.merging([name: value]) { $1 })
                } catch let error as GraphDiagnostics {
                    diagnostics += error.diagnostics.filter { !diagnostics.contains($0) }
                }
            }
        }
        if !diagnostics.isEmpty { throw GraphDiagnostics(source: graph.source, diagnostics: diagnostics) }
    }
}

public struct BatchError: Error, CustomStringConvertible {
    public let message: String
    /// A node of the graph failed (as opposed to bad input: options, files, datasets).
    public let isNodeFailure: Bool
    public init(_ message: String, isNodeFailure: Bool = false) {
        self.message = message
        self.isNodeFailure = isNodeFailure
    }
    public var description: String { message }
}
