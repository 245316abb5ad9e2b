import ArgumentParser
import Foundation
import ZFlowIO
import ZFlowTensor

/// `zflow convert IN OUT.safetensors`: leave pickle behind.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Write the tensors of a PyTorch checkpoint (or safetensors file) to a safetensors file.",
        discussion: """
            IN is a .ckpt/.pt/.pth (read by the restricted unpickler: nothing is executed) or a
            .safetensors file. Tensors are written as float32 under their keys; for a Lightning
            checkpoint the keys are those of its state_dict (use --whole-file for every entry,
            e.g. optimizer states). Exit code 1 when IN cannot be read or OUT written.
            """)

    @Argument(help: ArgumentHelp("The checkpoint to read.", valueName: "IN"))
    var input: String

    @Argument(help: ArgumentHelp("The .safetensors file to write.", valueName: "OUT"))
    var output: String

    @Flag(help: "Convert every tensor of the file, not only the state_dict's.")
    var wholeFile = false

    func run() throws {
        do {
            let source = try openTensorSource(URL(fileURLWithPath: input), root: wholeFile ? [] : nil)
            var tensors: [String: Tensor] = [:]
            for key in source.keys { tensors[key] = try source.tensor(key) }
            try writeSafeTensors(tensors, to: URL(fileURLWithPath: output), metadata: ["converted_from": input])
            FileHandle.standardError.write(Data("\(input): \(tensors.count) tensors -> \(output)\n".utf8))
        } catch {
            printError("zflow convert: \(error)")
            throw ExitStatus.nodeFailed.exitCode
        }
    }
}
