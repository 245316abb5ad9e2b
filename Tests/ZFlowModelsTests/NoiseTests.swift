import Foundation
import Testing
import ZFlowIO
import ZFlowTensor
import ZFlowTestSupport
@testable import ZFlowModels

/// Fixtures from tools/fixtures/noise.py (torch.randn, diffusers DDPMScheduler).
private func noiseFixtures() throws -> SafeTensorsFile {
    let url = try #require(Bundle.module.url(forResource: "Fixtures/noise/noise", withExtension: "safetensors"))
    return try SafeTensorsFile(contentsOf: url)
}

/// Counts values whose bit patterns differ (exact equality, NaN-safe).
private func bitMismatches(_ actual: Tensor, _ expected: Tensor) -> Int {
    zip(actual.buffer, expected.buffer).filter { $0.bitPattern != $1.bitPattern }.count
}

@Suite struct NoiseTests {
    static let draws: [(seed: UInt64, shape: [Int])] = [
        (0, [1]), (0, [7]), (1, [15]), (0, [16]), (42, [17]), (7, [31]), (123, [100]),
        (1 << 32 + 5, [33]), (0, [4, 48, 48]), (1234, [1, 4, 48, 48]),
    ]

    @Test(arguments: draws.indices)
    func randnMatchesTorchBitForBit(_ index: Int) throws {
        let (seed, shape) = Self.draws[index]
        let expected = try noiseFixtures().tensor("randn.seed\(seed)." + shape.map(String.init).joined(separator: "x"))
        var generator = TorchGenerator(seed: seed)
        let actual = generator.randn(shape)
        #expect(actual.shape == expected.shape)
        #expect(bitMismatches(actual, expected) == 0, "seed \(seed) shape \(shape)")
    }

    @Test func successiveDrawsContinueTheStream() throws {
        let fixtures = try noiseFixtures()
        var generator = TorchGenerator(seed: 5)
        for (name, count) in [("first", 3), ("second", 20), ("third", 5)] {
            let expected = try fixtures.tensor("randn.sequence.\(name).\(count)")
            #expect(bitMismatches(generator.randn([count]), expected) == 0, "draw \(name)")
        }
    }

    @Test(arguments: NoiseSchedule.BetaSchedule.allCases)
    func scheduleMatchesDiffusers(_ kind: NoiseSchedule.BetaSchedule) throws {
        let fixtures = try noiseFixtures()
        let schedule = NoiseSchedule(kind, betaStart: 0.00085, betaEnd: 0.012, steps: 1000)
        let betas = Tensor(shape: [1000], scalars: schedule.betas)
        let cumprod = Tensor(shape: [1000], scalars: schedule.alphasCumprod)
        #expect(bitMismatches(betas, try fixtures.tensor("\(kind.rawValue).betas")) == 0)
        #expect(bitMismatches(cumprod, try fixtures.tensor("\(kind.rawValue).alphas_cumprod")) == 0)
    }

    @Test(arguments: [0, 1, 300, 400, 999])
    func addNoiseMatchesDiffusers(_ t: Int) throws {
        let fixtures = try noiseFixtures()
        let latent = try fixtures.tensor("add_noise.latent"), noise = try fixtures.tensor("add_noise.noise")
        let actual = try NoiseSchedule.stableDiffusion.addNoise(latent, noise: noise, timestep: t)
        // diffusers takes `** 0.5` through MKL's vsSqrt, 1 ULP off the correctly rounded
        // sqrt at ~18% of timesteps (t = 400 is one): values then differ by about 1e-7.
        let report = compare(actual, try fixtures.tensor("add_noise.t\(t)"), atol: 1e-6, rtol: 0, name: "add_noise t=\(t)")
        #expect(report.passes, "\(report)")
    }

    @Test func addNoiseRejectsBadInputs() {
        let schedule = NoiseSchedule.stableDiffusion
        #expect(throws: ShapeError.self) {
            try schedule.addNoise(Tensor(zeros: [1, 4]), noise: Tensor(zeros: [4, 1]), timestep: 0)
        }
        #expect(throws: ShapeError.self) {
            try schedule.addNoise(Tensor(zeros: [4]), noise: Tensor(zeros: [4]), timestep: 1000)
        }
    }

    @Test func cephesMathStaysCloseToLibm() {
        // Sanity of the port itself, independent of the fixtures: within a few ULP of libm.
        for i in 1...1000 {
            let u = Float(i) / 1000
            #expect(abs(BoxMullerAVX2.log(u) - Foundation.log(u)) <= 4 * Foundation.log(u).ulp.magnitude + 1e-7)
            let theta = 2 * Float.pi * u
            let (s, c) = BoxMullerAVX2.sincos(theta)
            #expect(abs(s - Foundation.sin(theta)) <= 1e-6 && abs(c - Foundation.cos(theta)) <= 1e-6)
        }
    }
}
