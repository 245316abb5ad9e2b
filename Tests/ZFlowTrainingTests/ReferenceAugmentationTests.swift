import Foundation
import Testing
import ZFlowBatch
import ZFlowData
@testable import ZFlowTraining

/// `--augment reference`: crops, templates, t and noise seeds drawn from the seed and the sample's number in the run.
@Suite struct ReferenceAugmentationTests {
    @Test func drawsAreReproducibleAndFollowTheRecipe() async throws {
        let (folder, dataset) = try ZNetTrainerTests.scenes(count: 3, size: 64, samples: 3)
        defer { try? FileManager.default.removeItem(at: folder) }
        var logs: [[TrainingStep]] = []
        for (name, seed) in [("a", 4), ("b", 4), ("c", 5)] {
            let run = folder.appendingPathComponent(name)
            try await ZNetTrainerTests.train({
                $0.epochs = 2
                $0.seed = seed
                $0.augmentation = .reference
                $0.timesteps = [300, 400]
            }, dataset: dataset, output: run)
            logs.append(try ZNetTrainerTests.loggedSteps(run))
            #expect(!FileManager.default.fileExists(atPath: run.appendingPathComponent("crops").path), "crops are removed at the end")
        }
        func draws(_ log: [TrainingStep]) -> [[ReferenceDraw]?] { log.map(\.augment) }
        #expect(logs[0].count == 6)
        #expect(draws(logs[0]) == draws(logs[1]) && logs[0].map(\.sample) == logs[1].map(\.sample))
        #expect(draws(logs[0]) != draws(logs[2]))
        let masks = try Dictionary(uniqueKeysWithValues: dataset.samples.map { ($0.id, try GroundTruthMask(contentsOf: $0.mask)) })
        for log in logs {
            // Each epoch visits every sample once.
            #expect(Set(log.prefix(3).map(\.sample)).count == 3 && Set(log.suffix(3).map(\.sample)).count == 3)
            for step in log {
                #expect(step.augment?.count == 1)
                let draw = try #require(step.augment?.first), crop = draw.crop, mask = try #require(masks[step.sample])
                #expect(ReferenceAugmentation.templates.contains(draw.template))
                #expect([300, 400].contains(draw.t))
                #expect(crop.side >= 32 && crop.side <= 64 && crop.x + crop.side <= 64 && crop.y + crop.side <= 64)
                let inside = (crop.y..<(crop.y + crop.side)).map { y in
                    (crop.x..<(crop.x + crop.side)).filter { mask.foreground[y * mask.width + $0] }.count
                }.reduce(0, +)
                #expect(crop.foreground == Double(inside) / Double(crop.side * crop.side))
            }
            // Small objects may allow no crop with 5% (the fallback, tested below); most do.
            #expect(log.filter { $0.augment![0].crop.foreground >= 0.05 }.count * 2 > log.count)
        }
        let orders = Set(logs.map { $0.map(\.sample) })
        #expect(orders.count > 1 || logs[0].prefix(3).map(\.sample) != logs[0].suffix(3).map(\.sample),
                "the order is drawn per epoch")
    }

    /// A sample's draws are a function of the seed and its number in the run, not of the batch:
    /// an epoch of three samples in batches of 2 draws what it draws one sample per step.
    @Test func drawsFollowTheSampleNotTheBatch() async throws {
        let (folder, dataset) = try ZNetTrainerTests.scenes(count: 3, size: 64, samples: 3)
        defer { try? FileManager.default.removeItem(at: folder) }
        var logs: [[TrainingStep]] = []
        for batch in [1, 2] {
            let run = folder.appendingPathComponent("batch-\(batch)")
            try await ZNetTrainerTests.train({
                $0.epochs = 1
                $0.batch = batch
                $0.seed = 4
                $0.augmentation = .reference
            }, dataset: dataset, output: run)
            logs.append(try ZNetTrainerTests.loggedSteps(run))
        }
        let counts: [Int?] = logs[1].map { $0.augment?.count }
        #expect(counts == [2, 1])
        let single: [ReferenceDraw] = logs[0].flatMap { $0.augment ?? [] }, batched: [ReferenceDraw] = logs[1].flatMap { $0.augment ?? [] }
        #expect(single.count == 3)
        #expect(single == batched)
        let ids: [String] = logs[1].flatMap { $0.sample.split(separator: ",").map(String.init) }
        #expect(logs[0].map(\.sample) == ids)
    }

    @Test func withoutAFitTheCropWithTheMostForegroundIsTaken() throws {
        // A 100x100 mask with one foreground pixel: no square of side >= 50 reaches 5%.
        let mask = TargetMask(width: 100, height: 100, foreground: (0..<10_000).map { $0 == 0 })
        var random = SplitMix64(seed: 1)
        let crop = ReferenceAugmentation.squareCrop(mask, random: &random)
        #expect(crop.side >= 50 && crop.side <= 100)
        #expect(crop.foreground == (crop.x == 0 && crop.y == 0 ? 1 / Double(crop.side * crop.side) : 0))
        // A mask that is all foreground: the first attempt fits.
        let full = TargetMask(width: 80, height: 60, foreground: [Bool](repeating: true, count: 4800))
        var again = SplitMix64(seed: 1)
        let first = ReferenceAugmentation.squareCrop(full, random: &again)
        #expect(first.foreground == 1 && first.side >= 30 && first.side <= 60 && first.x + first.side <= 80 && first.y + first.side <= 60)
    }

    @Test func epochOrdersArePermutationsThatDependOnTheSeed() {
        let orders = (1...4).map { ReferenceAugmentation.order(count: 20, seed: 7, epoch: $0) }
        for order in orders { #expect(order.sorted() == Array(0..<20)) }
        #expect(Set(orders).count == 4)
        #expect(orders[0] == ReferenceAugmentation.order(count: 20, seed: 7, epoch: 1))
        #expect(orders[0] != ReferenceAugmentation.order(count: 20, seed: 8, epoch: 1))
    }

    @Test func theGraphMustHaveTheParamsItBinds() async throws {
        let (folder, dataset) = try ZNetTrainerTests.scenes(count: 1, size: 64, samples: 1)
        defer { try? FileManager.default.removeItem(at: folder) }
        await #expect {
            try await ZNetTrainerTests.train({
                $0.augmentation = .reference
                $0.settings["t"] = .int(300)
            }, dataset: dataset, output: folder.appendingPathComponent("run"))
        } throws: { "\($0)".contains("--set t: this parameter is bound by zflow train per step") }
        await #expect {
            try await ZNetTrainerTests.train({ $0.timesteps = [300] }, dataset: dataset, output: folder.appendingPathComponent("run"))
        } throws: { "\($0)".contains("--timesteps restricts --augment reference's t") }
    }
}
