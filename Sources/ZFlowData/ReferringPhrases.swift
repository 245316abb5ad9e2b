// The phrases a scene supports, each naming exactly one object. All comparisons use the pixels
// an object shows (`VisibleRegion`), what a viewer sees, and are exact integer arithmetic.

/// A phrase and the index of the object it names.
public struct ReferringPhrase: Sendable, Equatable {
    public let text: String
    public let object: Int
}

public enum ReferringPhrases {
    /// Every phrase the rules allow, in this order (per object, then per shape, then per pair of shapes):
    /// - `<colour> <shape>` ("red circle"): the only object of that colour and shape.
    /// - `the <colour> <shape> on the left` / `on the right`: two or more objects share that colour
    ///   and shape, and one is clearly left (right) of each other one: its centroid lies left of the
    ///   other's leftmost pixel and the other's centroid right of its rightmost pixel.
    /// - `the largest <shape>`: two or more objects of that shape (any colours), and one shows at
    ///   least 1.5 times as many pixels as each other one.
    /// - `the <shape A> above the <shape B>` (A ≠ B): exactly one object of shape B; exactly one
    ///   object of shape A is clearly above it (as "clearly left", along y), and every other
    ///   object of shape A has its centroid no higher than B's.
    public static func phrases(for scene: Scene) -> [ReferringPhrase] {
        let objects = scene.objects, regions = scene.visible
        var phrases: [ReferringPhrase] = []
        for (index, object) in objects.enumerated() {
            let twins = objects.indices.filter {
                $0 != index && objects[$0].colour == object.colour && objects[$0].shape == object.shape
            }
            let name = "\(object.colour.rawValue) \(object.shape.rawValue)"
            if twins.isEmpty {
                phrases.append(ReferringPhrase(text: name, object: index))
                continue
            }
            if twins.allSatisfy({ regions[index].isClearlyLeft(of: regions[$0]) }) {
                phrases.append(ReferringPhrase(text: "the \(name) on the left", object: index))
            }
            if twins.allSatisfy({ regions[$0].isClearlyLeft(of: regions[index]) }) {
                phrases.append(ReferringPhrase(text: "the \(name) on the right", object: index))
            }
        }
        for shape in ShapeKind.allCases {
            let group = objects.indices.filter { objects[$0].shape == shape }
            guard group.count >= 2 else { continue }
            for index in group where group.allSatisfy({ $0 == index || 2 * regions[index].count >= 3 * regions[$0].count }) {
                phrases.append(ReferringPhrase(text: "the largest \(shape.rawValue)", object: index))
            }
        }
        for upper in ShapeKind.allCases {
            for lower in ShapeKind.allCases where lower != upper {
                let below = objects.indices.filter { objects[$0].shape == lower }
                guard below.count == 1, let anchor = below.first else { continue }
                let candidates = objects.indices.filter { objects[$0].shape == upper }
                let clearly = candidates.filter { regions[$0].isClearlyAbove(regions[anchor]) }
                guard clearly.count == 1, let subject = clearly.first,
                      candidates.allSatisfy({ $0 == subject || !regions[$0].isAbove(regions[anchor]) }) else { continue }
                phrases.append(ReferringPhrase(text: "the \(upper.rawValue) above the \(lower.rawValue)", object: subject))
            }
        }
        return phrases
    }
}
