// Errors for images that come from outside: each names the file (origin) and what was wrong.

public enum ImageError: Error, CustomStringConvertible, Equatable {
    /// Neither PNG nor JPEG; `found` describes what the first bytes look like.
    case unrecognizedFormat(origin: String, found: String)
    /// A PNG or JPEG that its codec rejected (truncated, corrupt, unsupported).
    case corrupt(origin: String, format: String, message: String)
    /// The header declares more pixels than the caller's limit.
    case tooLarge(origin: String, message: String)
    /// The file could not be read or written.
    case io(path: String, message: String)
    /// A caller-supplied value that cannot describe an image or a resize.
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .unrecognizedFormat(origin, found):
            return "\(origin): not a PNG or JPEG image (found \(found))"
        case let .corrupt(origin, format, message):
            return "\(origin): invalid \(format) data: \(message)"
        case let .tooLarge(origin, message):
            return "\(origin): image too large: \(message)"
        case let .io(path, message):
            return "\(path): \(message)"
        case let .invalidArgument(message):
            return message
        }
    }
}
