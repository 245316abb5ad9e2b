/// The version of ZFlow: printed by `zflow --version`, recorded in results folders, and part of
/// every cache key, so that results computed by other code are never served as current.
/// Bump it with every change that can alter a number a node computes.
public enum ZFlowVersion {
    public static let string = "0.3.0"
}
