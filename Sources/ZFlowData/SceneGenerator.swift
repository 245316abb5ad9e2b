// Random scenes: a background and 1-4 objects, drawn again until the scene is readable.

public enum SceneGenerator {
    /// Scene `index` of the dataset with this seed (see `SplitMix64.init(seed:stream:)`).
    /// A drawn scene is kept when every object shows at least half of its pixels (and at least
    /// 12), no two objects of one colour touch (`Scene.hasTouchingTwins`) and some phrase names
    /// an object; otherwise the stream draws the next one. Any draw of one object of radius
    /// >= 4 pixels passes (radii reach 8.96 pixels at size 32), so each draw passes with a fixed
    /// positive probability and the loop ends, in practice after a few draws.
    public static func scene(index: Int, seed: UInt64, size: Int) -> (scene: Scene, phrases: [ReferringPhrase]) {
        var random = SplitMix64(seed: seed, stream: index)
        while true {
            let background = Background.draw(size: size, using: &random)
            let scene = Scene(size: size, background: background, objects: drawObjects(size: size, using: &random))
            let readable = scene.visible.indices.allSatisfy {
                scene.visible[$0].count >= 12 && 2 * scene.visible[$0].count >= scene.fullArea[$0]
            }
            guard readable, !scene.hasTouchingTwins else { continue }
            let phrases = ReferringPhrases.phrases(for: scene)
            if !phrases.isEmpty { return (scene, phrases) }
        }
    }

    /// Each object after the first repeats an earlier one's colour and shape with probability
    /// 1/4, else its shape with probability 1/3, so that relational phrases arise. Radii are
    /// 8% to 28% of the size; objects lie wholly inside the image.
    private static func drawObjects(size: Int, using random: inout SplitMix64) -> [SceneObject] {
        var objects: [SceneObject] = []
        for _ in 0..<random.int(in: 1...4) {
            var shape = random.pick(ShapeKind.allCases), colour = random.pick(NamedColour.allCases)
            if let model = objects.isEmpty ? nil : random.pick(objects) {
                if random.chance(1, in: 4) {
                    (shape, colour) = (model.shape, model.colour)
                } else if random.chance(1, in: 3) {
                    shape = model.shape
                }
            }
            let radius = Double(size * random.int(in: 8...28)) / 100
            let margin = Int(radius.rounded(.up))
            let rotation = shape.isRotated ? randomRotation(using: &random) : .identity
            objects.append(SceneObject(shape: shape, colour: colour,
                                       centreX: random.int(in: margin...(size - margin)),
                                       centreY: random.int(in: margin...(size - margin)),
                                       radius: radius, rotation: rotation))
        }
        return objects
    }

    /// The direction of a random integer vector of length 32 to 64: all angles, nearly uniform.
    private static func randomRotation(using random: inout SplitMix64) -> Rotation {
        while true {
            let (x, y) = (random.int(in: -64...64), random.int(in: -64...64))
            if (32 * 32...64 * 64).contains(x * x + y * y) { return Rotation(x: x, y: y) }
        }
    }
}
