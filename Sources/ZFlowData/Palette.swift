// The synthetic world's vocabulary: the colours and shapes phrases may name.

/// An object colour. Each has a channel below 48 or above 207, outside the range every
/// background pixel is clamped to, so no background pixel ever has an object's colour.
public enum NamedColour: String, CaseIterable, Sendable {
    case red, green, blue, yellow, purple, orange, white, black

    public var rgb: [UInt8] {
        switch self {
        case .red: [220, 30, 30]
        case .green: [30, 170, 40]
        case .blue: [30, 60, 220]
        case .yellow: [240, 220, 30]
        case .purple: [140, 40, 180]
        case .orange: [250, 140, 20]
        case .white: [250, 250, 250]
        case .black: [15, 15, 15]
        }
    }
}

public enum ShapeKind: String, CaseIterable, Sendable {
    case circle, square, triangle, star, ring

    /// Whether a drawn object of this shape gets a random rotation (circles and rings look the same).
    public var isRotated: Bool { self == .square || self == .triangle || self == .star }
}

/// The channel range of background pixels (see `NamedColour`).
public let backgroundChannelRange: ClosedRange<Int> = 48...207
