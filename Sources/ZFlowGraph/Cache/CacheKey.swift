import Foundation

// Structural cache keys: a node's key is derived from the code that computes it
// (the host's code identity, e.g. the ZFlow version, and the node's implementation
// identity), its type, its version, its constant arguments (canonical, type-tagged;
// files fingerprinted) and the keys of the nodes it reads. Names in the file play
// no part, so renaming a node keeps its cached results.

/// The parts a key is made of, kept to explain a miss.
public struct KeyParts: Codable, Sendable, Equatable {
    /// The host's code identity (`Engine.CacheOptions.codeIdentity`): the same for every node of a run.
    public var code: String
    public var type: String
    public var version: Int
    /// The node's `NodeType.implementationIdentity` ("" for most nodes).
    public var implementation: String
    /// Canonical argument values by input name (`int:384`, `path:...|file:...`).
    public var arguments: [String: String]
    /// `<upstream key>.<port>` by input name.
    public var inputs: [String: String]
    /// The upstream node name of each input, for messages only (not hashed).
    public var inputSources: [String: String]

    /// The SHA-256 of the canonical text of the parts that matter.
    public var digest: String {
        var text = "zflow-key-v2\ncode=\(code)\ntype=\(type)\nversion=\(version)\nimplementation=\(implementation)\n"
        for (name, value) in arguments.sorted(by: { $0.key < $1.key }) { text += "arg \(name)=\(value)\n" }
        for (name, value) in inputs.sorted(by: { $0.key < $1.key }) { text += "in \(name)=\(value)\n" }
        return SHA256.hex(text)
    }

    init(code: String, type: String, version: Int, implementation: String, arguments: [String: String] = [:],
         inputs: [String: String] = [:], inputSources: [String: String] = [:]) {
        self.code = code
        self.type = type
        self.version = version
        self.implementation = implementation
        self.arguments = arguments
        self.inputs = inputs
        self.inputSources = inputSources
    }

    /// Explanation records written before keys held the code read as code "", so that the first
    /// run after an upgrade says that the version changed rather than that nothing is recorded.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(code: try container.decodeIfPresent(String.self, forKey: .code) ?? "",
                  type: try container.decode(String.self, forKey: .type),
                  version: try container.decode(Int.self, forKey: .version),
                  implementation: try container.decodeIfPresent(String.self, forKey: .implementation) ?? "",
                  arguments: try container.decode([String: String].self, forKey: .arguments),
                  inputs: try container.decode([String: String].self, forKey: .inputs),
                  inputSources: try container.decode([String: String].self, forKey: .inputSources))
    }

    /// What differs from `previous`, in words.
    func changes(since previous: KeyParts) -> [String] {
        var changes: [String] = []
        let codeChanged = code != previous.code
        if codeChanged { changes.append("ZFlow version changed") }
        if implementation != previous.implementation { changes.append("implementation changed") }
        if type != previous.type { changes.append("node type changed (\(previous.type) -> \(type))") }
        if version != previous.version { changes.append("version changed (\(previous.version) -> \(version))") }
        for name in Set(arguments.keys).union(previous.arguments.keys).sorted() {
            switch (previous.arguments[name], arguments[name]) {
            case (nil, _?): changes.append("argument '\(name)' added")
            case (_?, nil): changes.append("argument '\(name)' removed")
            case (let old?, let new?) where old != new:
                changes.append(old.hasPrefix("path:") && new.hasPrefix("path:") && Self.pathPart(old) == Self.pathPart(new)
                    ? "file of argument '\(name)' changed on disk"
                    : "argument '\(name)' changed (\(Self.readable(old)) -> \(Self.readable(new)))")
            default: break
            }
        }
        // Another code changes every upstream key too: saying so for each input would only repeat it.
        for name in Set(inputs.keys).union(previous.inputs.keys).sorted() where !codeChanged && inputs[name] != previous.inputs[name] {
            let source = inputSources[name].map { " from '\($0)'" } ?? ""
            changes.append("input '\(name)'\(source) changed")
        }
        return changes
    }

    private static func pathPart(_ canonical: String) -> Substring {
        canonical.split(separator: "|", maxSplits: 1).first ?? ""
    }

    private static func readable(_ canonical: String) -> String {
        let text = canonical.hasPrefix("path:") ? String(pathPart(canonical)) : canonical
        return text.count > 60 ? String(text.prefix(57)) + "..." : text
    }
}

enum KeyBuilder {
    /// The canonical key text of a constant fed to an input of `type`.
    static func canonical(_ value: Constant, type: PortType, fingerprints: FingerprintMemo) -> String {
        switch (type, value) {
        case (.path, .string(let path)):
            // The absolute path, so that `x.png`, `./x.png` and `/cwd/x.png` are one argument.
            let absolute = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
            return "path:\(Constant.string(absolute).canonicalKey)|file:\(fingerprints.fingerprint(path))"
        case (.list(.path), .list(let items)):
            return "list:[" + items.map { canonical($0, type: .path, fingerprints: fingerprints) }.joined(separator: ",") + "]"
        default:
            return value.canonicalKey
        }
    }
}

/// File fingerprints computed once per run.
final class FingerprintMemo: @unchecked Sendable {
    private let lock = NSLock()
    private var known: [String: String] = [:]

    func fingerprint(_ path: String) -> String {
        if let value = lock.withLock({ known[path] }) { return value }
        let value = FileFingerprint.of(path: path)
        lock.withLock { known[path] = value }
        return value
    }
}
