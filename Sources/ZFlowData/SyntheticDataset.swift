import Foundation
import ZFlowImage

// A synthetic dataset on disk, in the eval manifest format (docs/evaluation.md):
//   DIR/manifest.jsonl      one line per (scene, phrase)
//   DIR/images/NNNN.png     scene NNNN, RGB
//   DIR/masks/NNNN-K.png    the mask of its object K (0 / 255), for each object a phrase names

public enum SyntheticDataset {
    public static let manifestName = "manifest.jsonl"
    public static let imagesFolder = "images"
    public static let masksFolder = "masks"

    /// The manifest lines of scene `index` (`digits` wide in file names), in phrase order;
    /// ids are `NNNN-P` with P the phrase's place in the scene.
    static func manifestLines(scene index: Int, digits: Int, phrases: [ReferringPhrase]) -> [String] {
        let name = paddedName(index, digits: digits)
        // Phrases are made of the fixed words of `NamedColour`, `ShapeKind` and `ReferringPhrases`:
        // nothing to escape in JSON.
        return phrases.enumerated().map { place, phrase in
            "{\"id\": \"\(name)-\(place)\", \"image\": \"\(imagesFolder)/\(name).png\", \"phrase\": \"\(phrase.text)\", "
                + "\"mask\": \"\(masksFolder)/\(name)-\(phrase.object).png\"}"
        }
    }

    /// Writes scenes 0..<count of size x size pixels into `folder` (created if needed), calling
    /// `progress` with the number of scenes written after each; returns the number of samples.
    public static func write(count: Int, size: Int, seed: UInt64, to folder: URL,
                             progress: (Int) -> Void = { _ in }) throws -> Int {
        let manager = FileManager.default
        for sub in [imagesFolder, masksFolder] {
            try manager.createDirectory(at: folder.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        let digits = max(4, String(count - 1).count)
        var lines: [String] = []
        for index in 0..<count {
            let (scene, phrases) = SceneGenerator.scene(index: index, seed: seed, size: size)
            let name = paddedName(index, digits: digits)
            try savePNG(rgb: RGBImage(width: size, height: size, pixels: scene.pixels),
                        to: folder.appendingPathComponent("\(imagesFolder)/\(name).png"))
            for object in Set(phrases.map(\.object)).sorted() {
                try savePNG(gray: GrayImage(width: size, height: size, pixels: scene.mask(of: object)),
                            to: folder.appendingPathComponent("\(masksFolder)/\(name)-\(object).png"))
            }
            lines += manifestLines(scene: index, digits: digits, phrases: phrases)
            progress(index + 1)
        }
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: folder.appendingPathComponent(manifestName), options: .atomic)
        return lines.count
    }

    private static func paddedName(_ index: Int, digits: Int) -> String {
        let text = String(index)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
