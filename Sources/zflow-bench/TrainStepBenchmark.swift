import Foundation
import ZFlowModels
import ZFlowTensor
import ZFlowTrain
import ZFlowTraining

let trainStepUsage = """
    usage: zflow-bench train-step [--trainable all|fusion] [--recompute] [--steps N] [--seed S]
                                  [--shapes FILE | --weights FILE] [--op-times] [--json]
      one full-size LD-ZNet training step at 384x384, batch 1 (issue 12; docs/benchmarks.md)
      --trainable  all: every ZNet and pool parameter (default); fusion: attn3, norm_sd, the pools, the head
      --recompute  recompute each ResBlock and spatial transformer in backward (zflow train --recompute)
      --steps N    steps, the first a warm-up reported apart (default 3)
      --seed S     seeds the random weights and the inputs (default 0)
      --shapes F   the parameter shapes random weights are drawn for (default tools/bench/ldznet-v1-shapes.json,
                   the official module's, written by tools/bench/train_step_torch.py --write-shapes)
      --weights F  start from the training copy of an LD-ZNet weights file instead (e.g. the
                   ldznet-full-weights.safetensors of tools/parity/ldznet_grads_full.py)
      --op-times   also print the seconds per timed step spent in each kind of op, forward ("conv 3x3") and
                   backward ("conv2d backward"), and outside them (OpTimes; the optimizer step is outside)
      --json       print one JSON object on stdout
    """

private struct TrainStepUsageError: BenchmarkUsageError, CustomStringConvertible {
    var problem: String
    var description: String { "\(problem)\n\(trainStepUsage)" }
}

private struct TrainStepOptions {
    var trainable = ZNetTrainableSet.all
    var recompute = false
    var steps = 3
    var seed: UInt64 = 0
    var shapes = "tools/bench/ldznet-v1-shapes.json"
    var weights: String?
    var opTimes = false
    var json = false

    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        func value(_ option: String) throws -> String {
            guard let value = rest.popFirst() else { throw TrainStepUsageError(problem: "\(option) needs a value") }
            return value
        }
        var shapesGiven = false
        while let option = rest.popFirst() {
            switch option {
            case "--trainable":
                let name = try value(option)
                guard let set = ZNetTrainableSet(rawValue: name) else {
                    throw TrainStepUsageError(problem: "--trainable \(name): not one of "
                        + ZNetTrainableSet.allCases.map(\.rawValue).joined(separator: ", "))
                }
                trainable = set
            case "--recompute": recompute = true
            case "--steps":
                let text = try value(option)
                guard let count = Int(text), count >= 1 else {
                    throw TrainStepUsageError(problem: "--steps \(text): not a whole number of at least 1")
                }
                steps = count
            case "--seed":
                let text = try value(option)
                guard let number = UInt64(text) else { throw TrainStepUsageError(problem: "--seed \(text): not a whole number >= 0") }
                seed = number
            case "--shapes": (shapes, shapesGiven) = (try value(option), true)
            case "--weights": weights = try value(option)
            case "--op-times": opTimes = true
            case "--json": json = true
            default: throw TrainStepUsageError(problem: "unknown option '\(option)'")
            }
        }
        if shapesGiven && weights != nil {
            throw TrainStepUsageError(problem: "--shapes and --weights: give one (a weights file has its own shapes)")
        }
    }
}

/// `tools/bench/ldznet-v1-shapes.json`: ZNet's parameter shapes by training-copy key.
private struct ParameterShapes: Decodable {
    let officialCommit: String
    let shapes: [String: [Int]]

    enum CodingKeys: String, CodingKey {
        case officialCommit = "official_commit"
        case shapes
    }

    init(path: String) throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw TrainStepUsageError(problem: "--shapes \(path): cannot read it (run from the repository root, or give "
                + "--shapes FILE; tools/bench/train_step_torch.py --write-shapes FILE writes it): \(error.localizedDescription)")
        }
        do { self = try JSONDecoder().decode(Self.self, from: data) } catch {
            throw TrainStepUsageError(problem: "--shapes \(path): not {\"official_commit\": ..., \"shapes\": {KEY: [dims]}}: \(error)")
        }
    }
}

/// The SD v1 taps LD-ZNet fuses, at latent 48 (a 384x384 image): tap 6 is `input_blocks.8` (level
/// 2, 12x12), tap 7 the middle block (6x6), taps 8-10 `output_blocks.3-5` (12x12), 1280 channels each.
private let sdTapShapes: [Int: [Int]] = [6: [1, 1280, 12, 12], 7: [1, 1280, 6, 6], 8: [1, 1280, 12, 12],
                                         9: [1, 1280, 12, 12], 10: [1, 1280, 12, 12]]
private let latentSide = 48

/// `zflow-bench train-step`: one full-size LD-ZNet training step at 384x384, batch 1 (issue 12),
/// timed; `tools/bench/train_step_torch.py` takes the same step on the official module and
/// `tools/bench/alternate_train_step.py` alternates the two. ZNet (cross-attention fusion) starts
/// from random weights (`ParameterInitialisation.random`, seeded) drawn for the official module's
/// parameter shapes, or from a weights file; the inputs are seeded random tensors: z [1, 4, 48, 48],
/// text [77, 768], the five SD taps (the frozen SD UNet that makes them runs before a training
/// step, not in it) and a 0/1 mask [384, 384]. A step is `zflow train`'s (`ZNetTrainingStep`):
/// forward on a gradient tape, BCE-with-logits (mean), backward, the gradient norm, AdamW (lr
/// 1e-5, weight decay 0.01); the EMA a run also keeps is not part of it.
func runTrainStepBenchmark(_ arguments: [String]) throws {
    let options = try TrainStepOptions(arguments)
    let progress = ProgressNote()
    var hyperparameters = TrainingHyperparameters()
    (hyperparameters.optimizer, hyperparameters.learningRate, hyperparameters.weightDecay) = (.adamw, 1e-5, 0.01)
    let patterns = options.trainable.patterns
    let step: ZNetTrainingStep
    if let weights = options.weights {
        progress("reading \(weights)")
        step = try ZNetTrainingStep(weights: weights, fusion: CrossAttentionFusion.name, train: patterns,
                                    recomputingBlocks: options.recompute, hyperparameters: hyperparameters,
                                    totalSteps: options.steps)
    } else {
        let shapes = try ParameterShapes(path: options.shapes)
        progress("random weights (seed \(options.seed)) for the \(shapes.shapes.count) shapes of \(options.shapes) "
                 + "(official module at \(shapes.officialCommit))")
        // The tree is a temporary: once the trainable tensors are copied, it holds nothing alive.
        step = try ZNetTrainingStep(start: ParameterInitialisation.random(shapes: shapes.shapes, seed: options.seed),
                                    config: .ldzNetV1, fusion: CrossAttentionFusion.name, train: patterns,
                                    recomputingBlocks: options.recompute, hyperparameters: hyperparameters,
                                    totalSteps: options.steps)
    }
    let counts = ParameterCounts(step.parameters)
    progress("ZNet: \(counts.all) values in \(step.parameters.keys.count) tensors; --trainable \(options.trainable.rawValue) "
             + "(\(patterns.joined(separator: " "))): \(counts.trainable) values in \(counts.trainableTensors) tensors; "
             + "recompute \(options.recompute ? "on" : "off")")

    let latent = benchmarkTensor([1, 4, latentSide, latentSide], seed: options.seed &+ 1)
    let text = benchmarkTensor([77, 768], seed: options.seed &+ 2)
    let taps = Dictionary(uniqueKeysWithValues: sdTapShapes.map { tap, shape in
        (tap, benchmarkTensor(shape, seed: options.seed &+ 10 &+ UInt64(tap)))
    })
    let maskSide = 8 * latentSide
    let mask = benchmarkTensor([maskSide * maskSide], seed: options.seed &+ 4).scalars.map { $0 >= 0 }
    var seconds: [Double] = [], losses: [Float] = []
    OpTimes.shared.isEnabled = options.opTimes
    var opsAfterWarmUp: [String: OpTimes.Total] = [:]
    for number in 1...options.steps {
        if number == 2 { opsAfterWarmUp = OpTimes.shared.snapshot() }
        var loss: Float = 0
        seconds.append(try wallSeconds {
            loss = try step(latent: latent, text: text, taps: taps, mask: mask, maskWidth: maskSide, maskHeight: maskSide).loss
        })
        losses.append(loss)
        progress(String(format: "step %d%@: %.3f s, loss %.6f", number, number == 1 ? " (warm-up)" : "", seconds.last!, loss))
    }

    let timed = Array(seconds.dropFirst())
    let opSeconds = options.opTimes && !timed.isEmpty ? stepOpSeconds(since: opsAfterWarmUp, steps: timed.count) : []
    var result: [String: Any] = [
        "side": "zflow", "cpu": MachineKey.current.cpu, "setting": options.trainable.rawValue, "recompute": options.recompute,
        "threads": ProcessInfo.processInfo.activeProcessorCount, "warmup_step_s": seconds[0], "steps": timed,
        "median_step_s": timed.isEmpty ? NSNull() : median(timed), "losses": losses.map(Double.init),
        "peak_rss_gb": peakResidentGigabytes(), "trainable_parameters": counts.trainable,
        "trainable_tensors": counts.trainableTensors, "parameters": counts.all,
    ]
    if options.opTimes { result["op_seconds_per_step"] = Dictionary(uniqueKeysWithValues: opSeconds) }
    if options.json {
        emit(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
        return
    }
    emit("ZFlow, LD-ZNet cross_attention, --trainable \(options.trainable.rawValue), recompute \(options.recompute ? "on" : "off"), "
         + "\(MachineKey.current.summary)")
    emit(String(format: "warm-up step %.3f s; timed steps %@; median %@", seconds[0],
                timed.isEmpty ? "none" : timed.map { String(format: "%.3f", $0) }.joined(separator: ", "),
                timed.isEmpty ? "none (--steps 1: the warm-up only)" : String(format: "%.3f s", median(timed))))
    emit(String(format: "peak RSS %.2f GB; trainable %d values in %d tensors of %d", peakResidentGigabytes(),
                counts.trainable, counts.trainableTensors, counts.all))
    if !opSeconds.isEmpty { emitStepOpTimes(opSeconds, stepSeconds: timed.reduce(0, +) / Double(timed.count)) }
}

/// Each op label's seconds per timed step (the steps after the warm-up), largest first.
private func stepOpSeconds(since start: [String: OpTimes.Total], steps: Int) -> [(String, Double)] {
    OpTimes.shared.snapshot().map { label, total in
        (label, total.since(start[label]).seconds / Double(steps))
    }.filter { $0.1 > 0 }.sorted { $0.1 > $1.1 }
}

/// `perStep` with each label's share of the mean step, then the step's time outside timed ops.
private func emitStepOpTimes(_ perStep: [(String, Double)], stepSeconds: Double) {
    emit("op times (s per timed step; share of the mean step, \(String(format: "%.3f", stepSeconds)) s):")
    for (label, seconds) in perStep + [("between ops", stepSeconds - perStep.reduce(0) { $0 + $1.1 })] {
        emit("  " + label.padding(toLength: 28, withPad: " ", startingAt: 0)
             + String(format: "%8.3f %5.1f%%", seconds, 100 * seconds / max(stepSeconds, 1e-9)))
    }
}

private struct ParameterCounts {
    let all: Int
    let trainable: Int
    let trainableTensors: Int

    init(_ parameters: TrainableParameters) {
        let trainableKeys = parameters.trainableKeys
        all = parameters.keys.reduce(0) { $0 + parameters[$1]!.count }
        trainable = trainableKeys.reduce(0) { $0 + parameters[$1]!.count }
        trainableTensors = trainableKeys.count
    }
}

/// The process's peak resident set so far, in GB.
private func peakResidentGigabytes() -> Double {
    Double(peakResidentKilobytes()) / 1e6
}

/// Progress on standard error, with the seconds since the benchmark began and the peak RSS so far.
private struct ProgressNote {
    let start = DispatchTime.now().uptimeNanoseconds

    func callAsFunction(_ message: String) {
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        FileHandle.standardError.write(Data(String(format: "[%7.1f s, peak RSS %.2f GB] %@\n", elapsed,
                                                   peakResidentGigabytes(), message).utf8))
    }
}
