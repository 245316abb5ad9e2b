import Foundation

/// What is wrong with a path the user gave: missing, a folder where a file is needed (or the
/// reverse), or unreadable. Every loader calls `PathCheck` before it opens anything, so that a
/// missing file is never reported as a file of the wrong format.
public struct PathProblem: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        case missing
        case folderWhereFileNeeded
        case fileWhereFolderNeeded
        case unreadable
    }

    public let path: String
    public let kind: Kind
    /// The folder a relative path was resolved against (named for missing paths only).
    public let resolvedAgainst: String?

    public init(path: String, kind: Kind, resolvedAgainst: String? = nil) {
        self.path = path
        self.kind = kind
        self.resolvedAgainst = resolvedAgainst
    }

    public var description: String {
        switch kind {
        case .missing:
            let base = resolvedAgainst.map { " (relative to \($0))" } ?? ""
            return "no such file or folder: \(path)\(base)"
        case .folderWhereFileNeeded: return "\(path) is a folder, expected a file"
        case .fileWhereFolderNeeded: return "\(path) is a file, expected a folder"
        case .unreadable: return "cannot read \(path): permission denied"
        }
    }
}

public enum PathCheck {
    public enum Expect: Sendable { case file, folder, fileOrFolder }

    /// Throws a `PathProblem` unless `path` exists, is of the expected kind and is readable.
    /// Relative paths are resolved against the current folder, which a missing path's error names.
    public static func require(_ path: String, _ expect: Expect = .file) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            let relative = !path.hasPrefix("/")
            throw PathProblem(path: path, kind: .missing,
                              resolvedAgainst: relative ? FileManager.default.currentDirectoryPath : nil)
        }
        switch (expect, isDirectory.boolValue) {
        case (.file, true): throw PathProblem(path: path, kind: .folderWhereFileNeeded, resolvedAgainst: nil)
        case (.folder, false): throw PathProblem(path: path, kind: .fileWhereFolderNeeded, resolvedAgainst: nil)
        default: break
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw PathProblem(path: path, kind: .unreadable, resolvedAgainst: nil)
        }
    }
}
