// Progress of a run, delivered in order on the scheduler's queue.

public enum RunEvent: Sendable {
    /// After planning: how many needed nodes will run and how many come from the cache.
    case planned(needed: Int, toRun: Int, cached: Int)
    /// A node's outputs came from the cache.
    case cached(NodeReport)
    case started(index: Int, name: String, typeName: String)
    /// A node ran, failed, or was skipped because a dependency failed.
    case finished(NodeReport)
    case completed(RunReport)
}
