import ZFlowData

/// A square region of a sample, in the pixels of its mask (and image).
public struct SquareCrop: Codable, Sendable, Equatable {
    public var x: Int
    public var y: Int
    public var side: Int
    /// The share of foreground pixels inside.
    public var foreground: Double
}

/// What `--augment reference` drew for one sample of a step.
public struct ReferenceDraw: Codable, Sendable, Equatable {
    public var crop: SquareCrop
    public var template: String
    public var t: Int
    public var noiseSeed: Int

    enum CodingKeys: String, CodingKey {
        case crop, template, t, noiseSeed = "noise_seed"
    }
}

/// The reference recipe's per-sample randomness (docs/training.md, "--augment reference"),
/// drawn from `SplitMix64(seed: --seed, stream: n)` for the run's n-th sample (1-based, counted
/// over the epochs in their orders; the step with `--batch 1`): a function of the seed and the
/// step alone, so a resumed run draws what the uninterrupted run drew without storing a
/// generator state. In order: the crop (side, then x, then y, per attempt), the template, t,
/// the noise seed.
enum ReferenceAugmentation {
    /// The reference's nine CLIP templates (docs/ldznet-reference.md).
    static let templates = [
        "a photo of a {}.", "a photograph of a {}.", "an image of a {}.", "{}.", "a cropped photo of a {}.",
        "a good photo of a {}.", "a photo of one {}.", "a bad photo of a {}.", "a photo of the {}.",
    ]
    /// The reference's `randint(300, 500)`.
    static let timesteps = 300...499
    static let minimumForeground = 0.05
    static let cropAttempts = 10
    /// Keeps the epoch-order streams apart from the step streams of the same seed.
    static let orderSalt: UInt64 = 0x6F72_6465_7273_616C

    static func draw(seed: Int, sample number: Int, mask: TargetMask, timesteps: [Int]?) -> ReferenceDraw {
        var random = SplitMix64(seed: UInt64(bitPattern: Int64(seed)), stream: number)
        let crop = squareCrop(mask, random: &random)
        let template = random.pick(templates)
        let t = timesteps.map { random.pick($0) } ?? random.int(in: Self.timesteps)
        return ReferenceDraw(crop: crop, template: template, t: t, noiseSeed: random.int(in: 0...Int(Int32.max)))
    }

    /// Up to `cropAttempts` squares of side uniform in [ceil(s/2), s] (s the shorter side) at a
    /// uniform position; the first with at least 5% foreground, else the attempt with the most
    /// (the first of equals): a sample whose object is too small (or absent) still trains.
    static func squareCrop(_ mask: TargetMask, random: inout SplitMix64) -> SquareCrop {
        let sums = mask.summedArea()
        let shorter = min(mask.width, mask.height)
        var best: SquareCrop?
        for _ in 0..<cropAttempts {
            let side = random.int(in: (shorter + 1) / 2...shorter)
            let x = random.int(in: 0...(mask.width - side)), y = random.int(in: 0...(mask.height - side))
            let inside = sums[(y + side) * (mask.width + 1) + x + side] - sums[y * (mask.width + 1) + x + side]
                - sums[(y + side) * (mask.width + 1) + x] + sums[y * (mask.width + 1) + x]
            let crop = SquareCrop(x: x, y: y, side: side, foreground: Double(inside) / Double(side * side))
            if crop.foreground >= minimumForeground { return crop }
            if crop.foreground > best?.foreground ?? -1 { best = crop }
        }
        return best!
    }

    /// The order of the samples in `epoch` (1-based): a Fisher-Yates shuffle drawn from
    /// `SplitMix64(seed: --seed ^ orderSalt, stream: epoch)`.
    static func order(count: Int, seed: Int, epoch: Int) -> [Int] {
        var random = SplitMix64(seed: UInt64(bitPattern: Int64(seed)) ^ orderSalt, stream: epoch)
        var order = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, random.int(in: 0...i)) }
        return order
    }
}
