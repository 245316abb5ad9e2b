import ArgumentParser
import Foundation
import ZFlowData

struct DatasetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset",
        abstract: "Make datasets for eval and training.",
        subcommands: [SynthCommand.self])
}

struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write a synthetic dataset of shapes with phrases and exact masks.",
        discussion: """
            Each scene holds 1-4 objects (circle, square, triangle, star, ring; red, green, \
            blue, yellow, purple, orange, white or black) on a textured background; objects \
            may overlap. Every phrase that names exactly one object is a sample: "red \
            circle", "the red circle on the left" (or right), "the largest star", "the ring \
            above the square".

            Writes into DIR:
              manifest.jsonl    one {"id", "image", "phrase", "mask"} line per sample
              images/NNNN.png   the scenes, RGB, S x S pixels
              masks/NNNN-K.png  the exact mask (0/255) of object K of scene NNNN

            The same --seed gives the same files on every machine, and scene N does not \
            depend on --count. Rules and layout: docs/evaluation.md, "Synthetic scenes".
            """)

    @Option(help: "Number of scenes (each gives one or more samples).")
    var count: Int

    @Option(help: ArgumentHelp("Side of the square images in pixels, 32 to 4096.", valueName: "S"))
    var size: Int = 64

    @Option(help: "Seed of the scenes.")
    var seed: UInt64 = 0

    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("Folder to write.", valueName: "DIR"))
    var output: String

    @Flag(help: "Write into a non-empty DIR, replacing its manifest.jsonl, images/ and masks/.")
    var overwrite = false

    @Flag(help: "No progress on stderr.")
    var quiet = false

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1 (got \(count))") }
        guard (32...4096).contains(size) else { throw ValidationError("--size must be 32 to 4096 pixels (got \(size))") }
    }

    func run() throws {
        let folder = URL(fileURLWithPath: output)
        try prepare(folder)
        let samples: Int
        do {
            samples = try SyntheticDataset.write(count: count, size: size, seed: seed, to: folder) { written in
                if !quiet && (written % 100 == 0 || written == count) { printError("[\(written)/\(count)] scenes") }
            }
        } catch {
            printError("zflow: cannot write the dataset into \(output): \(error.localizedDescription)")
            throw ExitStatus.nodeFailed.exitCode
        }
        print("\(folder.appendingPathComponent(SyntheticDataset.manifestName).relativePath): \(count) scene\(count == 1 ? "" : "s"), \(samples) sample\(samples == 1 ? "" : "s")")
    }

    /// Refuses a file, or a non-empty folder without --overwrite (exit 2); with --overwrite
    /// removes only what this command writes.
    private func prepare(_ folder: URL) throws {
        let manager = FileManager.default
        var isFolder: ObjCBool = false
        guard manager.fileExists(atPath: folder.path, isDirectory: &isFolder) else { return }
        guard isFolder.boolValue else {
            printError("zflow: \(output) is a file, expected a folder")
            throw ExitStatus.usage.exitCode
        }
        let contents = (try? manager.contentsOfDirectory(atPath: folder.path)) ?? []
        guard !contents.isEmpty else { return }
        guard overwrite else {
            printError("zflow: \(output) is not empty; rerun with --overwrite to replace its dataset, or choose another -o")
            throw ExitStatus.usage.exitCode
        }
        for name in [SyntheticDataset.manifestName, SyntheticDataset.imagesFolder, SyntheticDataset.masksFolder]
        where contents.contains(name) {
            do {
                try manager.removeItem(at: folder.appendingPathComponent(name))
            } catch {
                printError("zflow: --overwrite: cannot remove \(output)/\(name): \(error.localizedDescription)")
                throw ExitStatus.usage.exitCode
            }
        }
    }
}
