/// A problem with a tensor file's contents or with reading it: names the file,
/// the tensor key when one is involved, and what is wrong.
public struct TensorFileError: Error, CustomStringConvertible, Equatable, Sendable {
    public let file: String
    public let key: String?
    public let reason: String

    public init(file: String, key: String? = nil, _ reason: String) {
        self.file = file
        self.key = key
        self.reason = reason
    }

    public var description: String {
        if let key { return "\(file): tensor '\(key)': \(reason)" }
        return "\(file): \(reason)"
    }
}
