/// A layout's key table: model-side (diffusers) module paths -> stored module paths.
/// A key is renamed through its longest module prefix found in the table, then the stored
/// prefix (e.g. `model.diffusion_model.`) is put in front.
public struct ModuleRenameTable: Sendable, Equatable {
    public let storedPrefix: String
    public let modules: [String: String]

    public init(storedPrefix: String, modules: [String: String]) {
        self.storedPrefix = storedPrefix
        self.modules = modules
    }

    /// The stored key of the model-side `key`; keys outside the table keep their name.
    public func storedKey(_ key: String) -> String {
        var end = key.endIndex
        while true {
            if let mapped = modules[String(key[..<end])] {
                return storedPrefix + mapped + key[end...]
            }
            guard let dot = key[..<end].lastIndex(of: ".") else { return storedPrefix + key }
            end = dot
        }
    }
}
