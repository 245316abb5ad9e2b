// One object of a scene and the pixels it covers. The geometry uses Double with +, -, *, / and
// sqrt only: IEEE 754 rounds each exactly, so coverage is the same on every machine (no libm
// sin/cos, whose last bits differ between platforms). A pixel is covered when its centre is.

/// A unit vector (cos, sin): a rotation.
public struct Rotation: Sendable, Equatable {
    public let cos: Double, sin: Double

    /// The direction of the integer vector (x, y), which must not be zero.
    public init(x: Int, y: Int) {
        let length = (Double(x * x + y * y)).squareRoot()
        cos = Double(x) / length
        sin = Double(y) / length
    }

    public static let identity = Rotation(x: 1, y: 0)

    func apply(_ point: (x: Double, y: Double)) -> (x: Double, y: Double) {
        (point.x * cos - point.y * sin, point.x * sin + point.y * cos)
    }
}

public struct SceneObject: Sendable, Equatable {
    public let shape: ShapeKind
    public let colour: NamedColour
    /// The centre, at a pixel corner: pixel (x, y) has its centre at (x + 0.5, y + 0.5).
    public let centreX: Int, centreY: Int
    /// Circumradius in pixels (the outer radius of stars and rings).
    public let radius: Double
    public let rotation: Rotation
    /// Vertices of squares, triangles and stars; empty for circles and rings.
    private let outline: [(x: Double, y: Double)]

    /// Inner radius of a ring, and of a star's concave corners, per unit of `radius`.
    static let ringHole = 0.55, starWaist = 0.45

    public init(shape: ShapeKind, colour: NamedColour, centreX: Int, centreY: Int, radius: Double,
                rotation: Rotation = .identity) {
        self.shape = shape
        self.colour = colour
        self.centreX = centreX
        self.centreY = centreY
        self.radius = radius
        self.rotation = rotation
        outline = Self.outline(of: shape, radius: radius, rotation: rotation)
            .map { (Double(centreX) + $0.x, Double(centreY) + $0.y) }
    }

    public static func == (a: SceneObject, b: SceneObject) -> Bool {
        a.shape == b.shape && a.colour == b.colour && a.centreX == b.centreX && a.centreY == b.centreY
            && a.radius == b.radius && a.rotation == b.rotation
    }

    /// The pixel rows and columns that may be covered (not clipped to any image).
    public var bounds: (x: ClosedRange<Int>, y: ClosedRange<Int>) {
        let reach = Int(radius.rounded(.up)) + 1
        return ((centreX - reach)...(centreX + reach), (centreY - reach)...(centreY + reach))
    }

    public func covers(x: Int, y: Int) -> Bool {
        let px = Double(x) + 0.5, py = Double(y) + 0.5
        switch shape {
        case .circle, .ring:
            let dx = px - Double(centreX), dy = py - Double(centreY)
            let distance2 = dx * dx + dy * dy
            let hole = shape == .ring ? radius * Self.ringHole : 0
            return distance2 <= radius * radius && (shape == .circle || distance2 > hole * hole)
        case .square, .triangle, .star:
            return Self.polygon(outline, contains: (px, py))
        }
    }

    /// Vertices around the origin, the first pointing up (-y) before `rotation`: regular polygons
    /// for squares and triangles, ten points alternating outer and inner radius for stars. Each
    /// vertex is the previous one turned by the polygon's step, a rotation built from square roots.
    private static func outline(of shape: ShapeKind, radius: Double, rotation: Rotation) -> [(x: Double, y: Double)] {
        let step: (cos: Double, sin: Double), radii: [Double]
        switch shape {
        case .circle, .ring: return []
        case .square: (step, radii) = ((0, 1), [radius])
        case .triangle: (step, radii) = ((-0.5, 3.0.squareRoot() / 2), [radius])
        case .star:
            // cos 36° = (1 + √5) / 4, sin 36° = √(10 - 2√5) / 4.
            let root5 = 5.0.squareRoot()
            (step, radii) = (((1 + root5) / 4, (10 - 2 * root5).squareRoot() / 4), [radius, radius * starWaist])
        }
        let count = shape == .star ? 10 : shape == .square ? 4 : 3
        var direction = rotation.apply((0, -1))
        var vertices: [(x: Double, y: Double)] = []
        for index in 0..<count {
            let r = radii[index % radii.count]
            vertices.append((direction.x * r, direction.y * r))
            direction = (direction.x * step.cos - direction.y * step.sin, direction.x * step.sin + direction.y * step.cos)
        }
        return vertices
    }

    /// Even-odd crossing test.
    private static func polygon(_ vertices: [(x: Double, y: Double)], contains point: (x: Double, y: Double)) -> Bool {
        var inside = false
        var previous = vertices[vertices.count - 1]
        for vertex in vertices {
            if (vertex.y > point.y) != (previous.y > point.y),
               point.x < (previous.x - vertex.x) * (point.y - vertex.y) / (previous.y - vertex.y) + vertex.x {
                inside.toggle()
            }
            previous = vertex
        }
        return inside
    }
}
