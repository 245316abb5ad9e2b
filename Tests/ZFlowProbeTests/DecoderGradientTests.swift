import Testing
import ZFlowProbe
import ZFlowTensor
import ZFlowTrain

/// The decoder's gradients on a tape against central finite differences of its loss.
@Suite struct DecoderGradientTests {
    /// Deterministic values in [-1, 1).
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 23) - 1
        }
    }

    @Test func tapeGradientsMatchFiniteDifferences() throws {
        let decoder = try ProbeDecoder(prefix: "tap6.t400", channels: 3, textWidth: 4, hidden: 8, seed: 7)
        let feature = Tensor(shape: [1, 3, 4, 5], scalars: Self.values(60, seed: 1))
        let text = Tensor(shape: [5, 4], scalars: Self.values(20, seed: 2))
        let mask = Tensor(shape: [1, 1, 7, 9], scalars: Self.values(63, seed: 3).map { $0 > 0 ? 1 : 0 })
        let (loss, gradients) = try decoder.lossAndGradients(feature, text: text, mask: mask)
        #expect(loss == (try decoder.loss(feature, text: text, mask: mask)).scalars[0])
        #expect(Set(gradients.keys) == Set(decoder.parameters.keys))

        let step: Float = 4e-3
        var checked = 0, large = 0
        for key in decoder.parameters.keys {
            let parameter = try #require(decoder.parameters[key]), gradient = try #require(gradients[key])
            #expect(gradient.shape == parameter.shape, "\(key)")
            let analytics = gradient.scalars
            for index in Set([0, parameter.count / 2, parameter.count - 1]) {
                let original = parameter.mutablePointer[index]
                func lossAt(_ value: Float) throws -> Double {
                    parameter.mutablePointer[index] = value
                    parameter.storage.contentsChanged()
                    return Double(try decoder.loss(feature, text: text, mask: mask).scalars[0])
                }
                let difference = (try lossAt(original + step) - lossAt(original - step)) / Double(2 * step)
                _ = try lossAt(original)
                let analytic = Double(analytics[index])
                #expect(abs(difference - analytic) <= 2e-4 + 2e-2 * abs(analytic), "\(key)[\(index)]: tape \(analytic), differences \(difference)")
                checked += 1
                if abs(analytic) > 1e-3 { large += 1 }
            }
        }
        // Every parameter tensor is checked, and most gradients are far from zero (the check can fail).
        #expect(checked >= 8 * 2 && large >= checked / 2)
    }
}
