/// A weights location that does not hold what ZFlow needs, naming what was expected.
public enum LayoutError: Error, CustomStringConvertible, Equatable {
    /// A diffusers component folder without any weight file ZFlow reads.
    case missingWeightFiles(folder: String, expected: [String])
    /// A diffusers component folder without `config.json`.
    case missingConfig(folder: String)
    /// A path that is neither a diffusers folder nor a single-file checkpoint.
    case notAStableDiffusionLayout(path: String, expected: String)
    /// The location holds no weights for `component`.
    case componentMissing(component: String, location: String, expected: String)
    case unsupportedFile(path: String, supported: [String])

    public var description: String {
        switch self {
        case let .missingWeightFiles(folder, expected):
            return "\(folder): no weight file found; expected one of \(expected.joined(separator: ", "))"
        case let .missingConfig(folder):
            return "\(folder): missing config.json"
        case let .notAStableDiffusionLayout(path, expected):
            return "\(path): not a Stable Diffusion checkpoint; expected \(expected)"
        case let .componentMissing(component, location, expected):
            return "\(location): no \(component) weights; expected \(expected)"
        case let .unsupportedFile(path, supported):
            return "\(path): unsupported weight file; supported: \(supported.joined(separator: ", "))"
        }
    }
}
