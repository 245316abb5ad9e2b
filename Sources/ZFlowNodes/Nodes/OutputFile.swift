import Foundation
import ZFlowGraph
import ZFlowIO

/// The file a sink writes, its folders created; throws saying what is in the way: the path is a
/// folder, a file stands where a folder must be created, or the folder cannot be written.
func outputFile(_ path: String) throws -> URL {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
        try PathCheck.require(path, .file)  // throws: "PATH is a folder, expected a file"
    }
    let url = URL(fileURLWithPath: path)
    let folder = url.deletingLastPathComponent()
    var existing = folder
    while !FileManager.default.fileExists(atPath: existing.path) { existing.deleteLastPathComponent() }
    do {
        try PathCheck.require(existing.path, .folder)
    } catch {
        throw NodeError("cannot write \(path): \(error)")
    }
    guard FileManager.default.isWritableFile(atPath: existing.path) else {
        throw NodeError("cannot write \(path): the folder \(existing.path) is not writable")
    }
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return url
}
