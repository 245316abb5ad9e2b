import Foundation

/// A glob over dotted checkpoint keys, matched segment by segment (segments are the parts between
/// dots):
/// - `**` as a whole segment matches zero or more whole segments
///   (`**.bias` is every bias, `model.diffusion_model.**` everything below that prefix);
/// - `*` inside a segment matches any run of characters within that one segment, never a dot
///   (`input_blocks.*.1.**` is the second module of every input block, `proj_*` both projections);
/// - every other character matches itself.
public struct KeyPattern: Sendable, Equatable, CustomStringConvertible {
    private enum Segment: Equatable, Sendable {
        case anySegments
        /// The literal pieces between the `*`s of one segment (one piece when there is no `*`).
        case glob([Substring])
    }

    public let description: String
    private let segments: [Segment]

    public init(_ pattern: String) throws {
        guard !pattern.isEmpty else { throw TrainingError.badPattern(pattern: pattern, reason: "empty pattern") }
        description = pattern
        segments = try pattern.split(separator: ".", omittingEmptySubsequences: false).map { segment in
            if segment == "**" { return .anySegments }
            guard !segment.isEmpty else {
                throw TrainingError.badPattern(pattern: pattern, reason: "empty segment (two dots in a row, or a dot at an end)")
            }
            guard !segment.contains("**") else {
                throw TrainingError.badPattern(pattern: pattern, reason: "'**' must be a whole segment, found in '\(segment)'")
            }
            return .glob(segment.split(separator: "*", omittingEmptySubsequences: false))
        }
    }

    public func matches(_ key: String) -> Bool {
        Self.match(segments[...], key.split(separator: ".", omittingEmptySubsequences: false)[...])
    }

    private static func match(_ pattern: ArraySlice<Segment>, _ key: ArraySlice<Substring>) -> Bool {
        guard let first = pattern.first else { return key.isEmpty }
        switch first {
        case .anySegments:
            return (key.startIndex...key.endIndex).contains { match(pattern.dropFirst(), key[$0...]) }
        case let .glob(pieces):
            guard let segment = key.first, globMatches(pieces, segment) else { return false }
            return match(pattern.dropFirst(), key.dropFirst())
        }
    }

    /// Whether `text` is pieces[0] + anything + pieces[1] + ... + anything + pieces.last.
    private static func globMatches(_ pieces: [Substring], _ text: Substring) -> Bool {
        guard pieces.count > 1 else { return pieces[0] == text }
        guard text.hasPrefix(pieces[0]) else { return false }
        var rest = text.dropFirst(pieces[0].count)
        for piece in pieces.dropFirst().dropLast() where !piece.isEmpty {
            guard let found = rest.range(of: piece) else { return false }
            rest = rest[found.upperBound...]
        }
        let last = pieces[pieces.count - 1]
        return rest.count >= last.count && rest.hasSuffix(last)
    }
}
