// Errors about a `.zflow` file, with a location, rendered as
// `FILE:LINE:COL: error: message`, the source line and a caret.

public struct SourceLocation: Hashable, Sendable, Comparable {
    /// 1-based line and column (columns count Unicode scalars).
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }
}

/// A source span: where it starts and how many columns it covers on its line.
public struct SourceRange: Hashable, Sendable {
    public var start: SourceLocation
    public var length: Int

    public init(_ start: SourceLocation, length: Int = 1) {
        self.start = start
        self.length = max(1, length)
    }
}

public struct Diagnostic: Hashable, Sendable {
    public var range: SourceRange
    public var message: String

    public init(_ range: SourceRange, _ message: String) {
        self.range = range
        self.message = message
    }
}

/// A `.zflow` text with its name, able to show diagnostics in context.
public struct SourceFile: Sendable {
    public var name: String
    public var text: String
    public let lines: [Substring]

    public init(name: String, text: String) {
        self.name = name
        self.text = text
        self.lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    }

    /// `FILE:LINE:COL: error: message`, the source line, and a caret under the span.
    public func render(_ diagnostic: Diagnostic) -> String {
        let start = diagnostic.range.start
        var out = "\(name):\(start.line):\(start.column): error: \(diagnostic.message)"
        guard start.line >= 1, start.line <= lines.count else { return out }
        let line = String(lines[start.line - 1]).replacingCarriageReturn()
        let scalars = Array(line.unicodeScalars)
        let prefix = scalars.prefix(max(0, start.column - 1)).map { $0 == "\t" ? "\t" : " " }.joined()
        let available = max(1, scalars.count - (start.column - 1))
        let underline = "^" + String(repeating: "~", count: min(diagnostic.range.length, available) - 1)
        out += "\n" + line + "\n" + prefix + underline
        return out
    }

    /// All diagnostics, sorted by position, each rendered, joined by newlines.
    public func render(_ diagnostics: [Diagnostic]) -> String {
        diagnostics.sorted { $0.range.start < $1.range.start }.map(render).joined(separator: "\n")
    }
}

/// Thrown when a graph does not check: every diagnostic of the file at once.
public struct GraphDiagnostics: Error, CustomStringConvertible, Sendable {
    public var source: SourceFile
    public var diagnostics: [Diagnostic]

    public init(source: SourceFile, diagnostics: [Diagnostic]) {
        self.source = source
        self.diagnostics = diagnostics.sorted { $0.range.start < $1.range.start }
    }

    /// At most this many diagnostics are printed: more mean that the file is not a graph at all.
    public static let printedLimit = 50

    public var description: String {
        let count = diagnostics.count
        var text = source.render(Array(diagnostics.prefix(Self.printedLimit)))
        if count > Self.printedLimit { text += "\nand \(count - Self.printedLimit) more errors" }
        return text + "\n\(count) error\(count == 1 ? "" : "s") in \(source.name)"
    }
}

extension String {
    fileprivate func replacingCarriageReturn() -> String {
        hasSuffix("\r") ? String(dropLast()) : self
    }
}
