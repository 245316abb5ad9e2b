import Foundation

/// Loads each model once per process and shares it with every node that names the
/// same file: the key is the model kind plus the file's resolved path. Loads of
/// different keys run in parallel; a second request for a key being loaded waits.
final class ModelStore: @unchecked Sendable {
    static let shared = ModelStore()

    private let lock = NSLock()
    private var slots: [String: Slot] = [:]

    /// One model being loaded or loaded, with its own lock so that a load holds only its key.
    private final class Slot: @unchecked Sendable {
        let lock = NSLock()
        var model: (any Sendable)?
    }

    func model<Model: Sendable>(_ kind: String, path: String, load: () throws -> Model) throws -> Model {
        let key = "\(kind)|\(URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path)"
        let slot = lock.withLock {
            if let existing = slots[key] { return existing }
            let created = Slot()
            slots[key] = created
            return created
        }
        return try slot.lock.withLock {
            if let model = slot.model as? Model { return model }
            let model = try load()
            slot.model = model
            return model
        }
    }
}
