import Synchronization

/// The resources being served: the built-ins plus whatever CRDs registered.
public final class Registry: Sendable {
    private let custom = Mutex<[String: [ResourceType]]>([:])   // CRD name → served versions

    /// Creates a registry with the built-in resources.
    public init() {}

    /// Every served resource type.
    public var all: [ResourceType] {
        ResourceType.builtIns + custom.withLock { c in c.keys.sorted().flatMap { c[$0]! } }
    }

    /// The type served at group/version/plural.
    public func lookup(group: String, version: String, plural: String) -> ResourceType? {
        all.first { $0.group == group && $0.version == version && $0.plural == plural }
    }

    /// Every group/version served, grouped by group in discovery order (core excluded).
    public var groups: [(name: String, versions: [String])] {
        var order: [String] = []
        var versions: [String: [String]] = [:]
        for t in all where !t.group.isEmpty {
            if versions[t.group] == nil { order.append(t.group) }
            if !(versions[t.group]?.contains(t.version) ?? false) { versions[t.group, default: []].append(t.version) }
        }
        return order.map { ($0, versions[$0]!) }
    }

    /// Serves (or replaces) the resources of a CRD.
    public func register(crdName: String, types: [ResourceType]) {
        custom.withLock { $0[crdName] = types }
    }

    /// Stops serving a CRD's resources.
    public func unregister(crdName: String) {
        _ = custom.withLock { $0.removeValue(forKey: crdName) }
    }
}
