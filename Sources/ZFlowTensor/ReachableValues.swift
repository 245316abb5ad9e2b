/// Calls `visit` on `root` and on every value reachable from it by reflection (stored properties,
/// enum payloads, collection elements, superclasses' properties), visiting each object once;
/// `visit` returns false to skip what lies inside a value. This finds the tensors a model holds
/// without every model type declaring them (`TensorStorage.reachable`, the memo cache's size
/// estimate).
public func visitReachableValues(from root: Any, _ visit: (Any) -> Bool) {
    var seenObjects: Set<ObjectIdentifier> = []
    func walk(_ value: Any) {
        guard visit(value) else { return }
        var mirror: Mirror? = Mirror(reflecting: value)
        if mirror?.displayStyle == .class, !seenObjects.insert(ObjectIdentifier(value as AnyObject)).inserted { return }
        while let current = mirror {
            for child in current.children { walk(child.value) }
            mirror = current.superclassMirror
        }
    }
    walk(root)
}

extension TensorStorage {
    /// The distinct storages reachable from `root` (`visitReachableValues`), in the order found.
    public static func reachable(from root: Any) -> [TensorStorage] {
        var found: [TensorStorage] = [], seen: Set<ObjectIdentifier> = []
        visitReachableValues(from: root) { value in
            guard let storage = value as? TensorStorage else { return true }
            if seen.insert(ObjectIdentifier(storage)).inserted { found.append(storage) }
            return false
        }
        return found
    }
}
