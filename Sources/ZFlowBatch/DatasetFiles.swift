import Foundation
import ZFlowEval
import ZFlowImage
import ZFlowIO

// The check of a dataset's files before any sample runs: each exists, is a readable file,
// and its header decodes. A mask must be a PNG or JPEG. The "image" is whatever the graph's
// image param takes (a photo, or e.g. stored logits), so only a file that claims to be a PNG
// or JPEG (by its extension or its first bytes) must have a header that decodes.

public enum DatasetFiles {
    /// Reads a manifest and checks every file it names; throws `ManifestErrors` listing every bad line.
    public static func load(_ url: URL) throws -> DatasetManifest {
        try PathCheck.require(url.path)
        return try DatasetManifest(contentsOf: url, checkFile: problem)
    }

    /// What is wrong with the file of a sample's `field`, or nil.
    static func problem(field: String, url: URL) -> String? {
        do {
            try PathCheck.require(url.path)
            _ = try ImageHeader(contentsOf: url)
            return nil
        } catch ImageError.unrecognizedFormat where field == "image" && !imageExtensions.contains(url.pathExtension.lowercased()) {
            return nil
        } catch {
            return "\(error)"
        }
    }

    private static let imageExtensions: Set<String> = ["png", "jpg", "jpeg"]
}
