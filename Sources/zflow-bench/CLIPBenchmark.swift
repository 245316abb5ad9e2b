// `zflow-bench clip`: tokenizes prompts with the bundled tokenizer, runs the CLIP
// text encoder of a diffusers folder on them, writes the outputs for
// tools/parity/clip_full.py to compare, and prints the median encode time.
import Foundation
import ZFlowIO
import ZFlowModels
import ZFlowTensor

struct CLIPBenchmarkUsage: Error, CustomStringConvertible {
    var description: String {
        "usage: zflow-bench clip --folder <diffusers root or text_encoder/> --prompts <file, one per line> "
            + "[--out <outputs.safetensors>] [--runs N]"
    }
}

func runCLIPBenchmark(_ arguments: [String]) throws {
    var options: [String: String] = [:]
    var index = 0
    while index + 1 < arguments.count, arguments[index].hasPrefix("--") {
        options[String(arguments[index].dropFirst(2))] = arguments[index + 1]
        index += 2
    }
    guard index == arguments.count, let folder = options["folder"], let promptsPath = options["prompts"] else {
        throw CLIPBenchmarkUsage()
    }
    let runs = Int(options["runs"] ?? "5") ?? 5

    let loadStart = Date()
    let encoder = try CLIPTextEncoder(folder: URL(fileURLWithPath: folder))
    let tokenizer = try CLIPTokenizer.bundled()
    print(String(format: "loaded in %.2f s", Date().timeIntervalSince(loadStart)))

    let prompts = try String(contentsOfFile: promptsPath, encoding: .utf8)
        .split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    var outputs: [String: Tensor] = [:]
    var firstIDs: [Int] = []
    for (number, prompt) in prompts.enumerated() {
        let tokens = tokenizer.tokenize(prompt)
        if number == 0 { firstIDs = tokens.ids }
        if tokens.truncated { print("prompt \(number): truncated to \(CLIPTokenizer.contextLength) tokens") }
        let output = try encoder(tokens.ids, penultimate: true)
        outputs["\(number).ids"] = Tensor(shape: [tokens.ids.count], scalars: tokens.ids.map(Float.init))
        outputs["\(number).last_hidden_state"] = output.lastHiddenState
        outputs["\(number).penultimate"] = output.penultimate
    }
    if let out = options["out"] { try writeSafeTensors(outputs, to: URL(fileURLWithPath: out)) }

    _ = try encoder(firstIDs)   // warm-up
    var times: [Double] = [], cpuTimes: [Double] = []
    for _ in 0..<runs {
        let cpuStart = workingCPUNanoseconds()
        times.append(try wallSeconds { _ = try encoder(firstIDs) } * 1000)
        cpuTimes.append(Double(cpuNanoseconds(from: cpuStart, to: workingCPUNanoseconds())) / 1e6)
    }
    // CPU time (all threads, polling left out) is the steadier figure when other jobs share the cores.
    print(String(format: "working CPU time per encode, median: %.1f ms", median(cpuTimes)))
    print(String(format: "peak RSS %.0f MB", Double(peakResidentKilobytes()) / 1024))
    print(String(format: "ZFlow CLIP text encoder (77 tokens) median of %d: %.1f ms", runs, median(times)))
}
