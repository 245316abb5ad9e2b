import ArgumentParser
import Foundation
import ZFlowIO
import ZFlowTensor
import ZFlowTrain

/// `zflow convert IN OUT.safetensors`: leave pickle behind.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Write the tensors of a PyTorch checkpoint (or safetensors file) to a safetensors file.",
        discussion: """
            IN is a .ckpt/.pt/.pth (read by the restricted unpickler: nothing is executed) or a \
            .safetensors file. Tensors are written as float32 under their keys; for a Lightning \
            checkpoint the keys are those of its state_dict (use --whole-file for every entry, \
            e.g. optimizer states). --only keeps the keys that match one of its globs (`*` within a \
            dotted segment, `**` any number of segments), e.g. `--only 'model_ema.**'` takes the EMA \
            copy out of a training checkpoint. Exit code 1 when IN cannot be read or OUT written; 2 \
            for a bad glob or one that matches no key.
            """)

    @Argument(help: ArgumentHelp("The checkpoint to read.", valueName: "IN"))
    var input: String

    @Argument(help: ArgumentHelp("The .safetensors file to write.", valueName: "OUT"))
    var output: String

    @Flag(help: "Convert every tensor of the file, not only the state_dict's.")
    var wholeFile = false

    @Option(help: ArgumentHelp("Keep only the keys matching this glob (repeatable).", valueName: "GLOB"))
    var only: [String] = []

    func validate() throws {
        for glob in only {
            do { _ = try KeyPattern(glob) } catch { throw ValidationError("--only \(glob): \(error)") }
        }
    }

    func run() throws {
        let patterns = try only.map(KeyPattern.init)
        let source: any TensorSource
        do { source = try openTensorSource(URL(fileURLWithPath: input), root: wholeFile ? [] : nil) } catch {
            printError("zflow convert: \(error)")
            throw ExitStatus.nodeFailed.exitCode
        }
        let keys = source.keys.filter { key in patterns.isEmpty || patterns.contains { $0.matches(key) } }
        if let unmatched = patterns.first(where: { pattern in !keys.contains { pattern.matches($0) } }) {
            printError("zflow convert: --only \(unmatched): no key of \(input) matches")
            throw ExitStatus.usage.exitCode
        }
        do {
            var tensors: [String: Tensor] = [:]
            for key in keys { tensors[key] = try source.tensor(key) }
            try writeSafeTensors(tensors, to: URL(fileURLWithPath: output), metadata: ["converted_from": input])
            FileHandle.standardError.write(Data("\(input): \(tensors.count) tensors -> \(output)\n".utf8))
        } catch {
            printError("zflow convert: \(error)")
            throw ExitStatus.nodeFailed.exitCode
        }
    }
}
