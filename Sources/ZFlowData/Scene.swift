// A rendered scene: objects painted in order over a background, each pixel taking the colour of
// the last object covering it (no anti-aliasing). `owner` records that object, so an object's
// mask is exactly the pixels whose colour comes from it after occlusion.

/// The pixels an object shows, summarised for the phrase rules (coordinates are pixel indices).
public struct VisibleRegion: Sendable, Equatable {
    public var count = 0
    public var sumX = 0, sumY = 0
    public var minX = Int.max, maxX = Int.min, minY = Int.max, maxY = Int.min

    mutating func add(x: Int, y: Int) {
        count += 1
        sumX += x
        sumY += y
        (minX, maxX, minY, maxY) = (min(minX, x), max(maxX, x), min(minY, y), max(maxY, y))
    }

    /// Clearly left of `other`: each centroid lies beyond the other region's extent
    /// (this centroid left of `other`'s leftmost column, `other`'s right of this one's rightmost).
    public func isClearlyLeft(of other: VisibleRegion) -> Bool {
        sumX < other.minX * count && other.sumX > maxX * other.count
    }

    /// `isClearlyLeft(of:)` along y: clearly above `other`.
    public func isClearlyAbove(_ other: VisibleRegion) -> Bool {
        sumY < other.minY * count && other.sumY > maxY * other.count
    }

    /// Centroid higher than `other`'s.
    public func isAbove(_ other: VisibleRegion) -> Bool {
        sumY * other.count < other.sumY * count
    }
}

public struct Scene: Sendable {
    public let size: Int
    public let objects: [SceneObject]
    /// Interleaved RGB, `size` rows of `size` pixels.
    public let pixels: [UInt8]
    /// Per pixel, the index of the object whose colour it shows, or -1 for the background.
    public let owner: [Int]
    /// Per object, how many pixels it covers before occlusion.
    public let fullArea: [Int]
    /// Per object, the pixels it shows.
    public let visible: [VisibleRegion]

    public init(size: Int, background: [UInt8], objects: [SceneObject]) {
        var owner = [Int](repeating: -1, count: size * size)
        var fullArea = [Int](repeating: 0, count: objects.count)
        for (index, object) in objects.enumerated() {
            let bounds = object.bounds
            for y in max(0, bounds.y.lowerBound)...min(size - 1, bounds.y.upperBound) {
                for x in max(0, bounds.x.lowerBound)...min(size - 1, bounds.x.upperBound) where object.covers(x: x, y: y) {
                    owner[y * size + x] = index
                    fullArea[index] += 1
                }
            }
        }
        var pixels = background
        var visible = [VisibleRegion](repeating: VisibleRegion(), count: objects.count)
        for y in 0..<size {
            for x in 0..<size where owner[y * size + x] >= 0 {
                let index = owner[y * size + x]
                visible[index].add(x: x, y: y)
                pixels.replaceSubrange((3 * (y * size + x))..<(3 * (y * size + x) + 3), with: objects[index].colour.rgb)
            }
        }
        self.size = size
        self.objects = objects
        self.pixels = pixels
        self.owner = owner
        self.fullArea = fullArea
        self.visible = visible
    }

    /// 255 where the pixel shows object `index`, 0 elsewhere.
    public func mask(of index: Int) -> [UInt8] {
        owner.map { $0 == index ? 255 : 0 }
    }

    /// Whether two objects of the same colour share an edge or overlap, so that no visible
    /// boundary separates them (the generator rejects such scenes).
    public var hasTouchingTwins: Bool {
        for y in 0..<size {
            for x in 0..<size {
                let here = owner[y * size + x]
                guard here >= 0 else { continue }
                for (nx, ny) in [(x + 1, y), (x, y + 1)] where nx < size && ny < size {
                    let other = owner[ny * size + nx]
                    if other >= 0 && other != here && objects[other].colour == objects[here].colour { return true }
                }
            }
        }
        return false
    }
}
