import BatchCore
import Foundation
import Synchronization

/// One change to the store, as watches see it.
public struct StoreChange: Sendable {
    /// Watch event type.
    public enum Kind: String, Sendable { case added = "ADDED", modified = "MODIFIED", deleted = "DELETED" }
    /// The global resourceVersion of the change.
    public var resourceVersion: Int64
    /// Which bucket (resource) changed.
    public var storageKey: String
    /// What happened.
    public var kind: Kind
    /// The object after the change (for deletes: its last state, carrying the delete's resourceVersion).
    public var object: JSONValue
    /// The object before the change (nil for adds).
    public var previous: JSONValue?
    /// The object's namespace.
    public var namespace: String { object["metadata"]?["namespace"]?.stringValue ?? "" }
}

/// What a transaction does with the object it looked at.
public enum StoreWrite: Sendable {
    case put(JSONValue)
    case delete
    case none
}

/// The generic object store: storage key → namespace/name → object (JSON), a global resourceVersion counter,
/// and a bounded history of changes so watches can resume (and get 410 once they are too old).
public final class ObjectStore: Sendable {
    struct Watcher {
        let storageKey: String
        let continuation: AsyncStream<StoreChange>.Continuation
    }

    struct State {
        var resourceVersion: Int64 = 1
        var objects: [String: [String: JSONValue]] = [:]
        var history: [StoreChange] = []
        var historyStart = 0
        /// Changes at or before this version are no longer in the history.
        var compactedThrough: Int64 = 0
        var watchers: [UUID: Watcher] = [:]
    }

    private let state = Mutex(State())
    /// How many changes the watch history keeps.
    public let historyLimit: Int

    /// Creates an empty store.
    /// - Parameter historyLimit: changes kept for watches; older watch starts get 410 Expired.
    public init(historyLimit: Int = 10_000) {
        self.historyLimit = max(1, historyLimit)
    }

    static func key(_ namespace: String, _ name: String) -> String { "\(namespace)/\(name)" }

    /// The current global resourceVersion.
    public var currentResourceVersion: Int64 { state.withLock { $0.resourceVersion } }

    /// The oldest version a watch may start from.
    public var compactedThrough: Int64 { state.withLock { $0.compactedThrough } }

    /// Drops all history (tests use this to force 410 on watches).
    public func compact() {
        state.withLock { s in
            s.history.removeAll()
            s.historyStart = 0
            s.compactedThrough = s.resourceVersion
        }
    }

    /// One object.
    public func get(_ storageKey: String, namespace: String, name: String) -> JSONValue? {
        state.withLock { $0.objects[storageKey]?[Self.key(namespace, name)] }
    }

    /// All objects of a storage key (optionally one namespace), sorted by namespace/name, and the list's version.
    public func list(_ storageKey: String, namespace: String?) -> (items: [JSONValue], resourceVersion: Int64) {
        state.withLock { s in
            let bucket = s.objects[storageKey] ?? [:]
            let keys = bucket.keys.sorted()
            var items: [JSONValue] = []
            for k in keys {
                if let namespace, !namespace.isEmpty, !k.hasPrefix(namespace + "/") { continue }
                if let v = bucket[k] { items.append(v) }
            }
            return (items, s.resourceVersion)
        }
    }

    /// Reads, decides and writes one object atomically. `body` sees the current object (nil if absent) and
    /// returns what to write; the store assigns the next resourceVersion, records history and notifies watches.
    /// Returns the stored object (for deletes: the last state) or nil when nothing was written.
    @discardableResult
    public func transact(_ storageKey: String, namespace: String, name: String,
                         _ body: (JSONValue?) throws -> StoreWrite) throws -> JSONValue? {
        try state.withLock { s -> JSONValue? in
            let k = Self.key(namespace, name)
            let current = s.objects[storageKey]?[k]
            let decision = try body(current)
            var change: StoreChange?
            switch decision {
            case .none:
                return current
            case .put(var object):
                s.resourceVersion += 1
                object[path: ["metadata", "resourceVersion"]] = .string(String(s.resourceVersion))
                s.objects[storageKey, default: [:]][k] = object
                change = StoreChange(resourceVersion: s.resourceVersion, storageKey: storageKey,
                                     kind: current == nil ? .added : .modified, object: object, previous: current)
            case .delete:
                guard var last = current else { return nil }
                s.resourceVersion += 1
                last[path: ["metadata", "resourceVersion"]] = .string(String(s.resourceVersion))
                s.objects[storageKey]?[k] = nil
                change = StoreChange(resourceVersion: s.resourceVersion, storageKey: storageKey, kind: .deleted,
                                     object: last, previous: current)
            }
            guard let change else { return current }
            s.history.append(change)
            if s.history.count - s.historyStart > historyLimit {
                s.compactedThrough = s.history[s.historyStart].resourceVersion
                s.historyStart += 1
                if s.historyStart > 4096 {
                    s.history.removeFirst(s.historyStart)
                    s.historyStart = 0
                }
            }
            // Delivered under the lock so every watcher sees changes in resourceVersion order
            // (yield only enqueues; it never runs the consumer).
            for w in s.watchers.values where w.storageKey == storageKey { w.continuation.yield(change) }
            return change.object
        }
    }

    /// A watch registration: the backlog after `fromVersion` plus a stream of later changes.
    public struct Subscription: Sendable {
        /// Registration id (for `unwatch`).
        public let id: UUID
        /// Changes after the requested version, oldest first.
        public let backlog: [StoreChange]
        /// Later changes.
        public let stream: AsyncStream<StoreChange>
        /// The store version when the watch was registered (for bookmarks).
        public let startVersion: Int64
        /// Current objects, when the watch started without a version (for synthetic ADDED events).
        public let snapshot: [JSONValue]
    }

    /// Why a watch cannot start.
    public enum WatchFailure: Error {
        case tooOld(requested: Int64, oldest: Int64)
    }

    /// Registers a watch on `storageKey`. With `fromVersion` nil the subscription carries a snapshot of all
    /// current objects; otherwise the history after that version (or `tooOld`).
    public func watch(_ storageKey: String, fromVersion: Int64?) throws(WatchFailure) -> Subscription {
        let (stream, continuation) = AsyncStream<StoreChange>.makeStream(bufferingPolicy: .unbounded)
        let id = UUID()
        let result: Result<Subscription, WatchFailure> = state.withLock { s in
            var backlog: [StoreChange] = []
            var snapshot: [JSONValue] = []
            if let fromVersion {
                if fromVersion < s.compactedThrough {
                    return .failure(.tooOld(requested: fromVersion, oldest: s.compactedThrough))
                }
                for change in s.history[s.historyStart...] where change.resourceVersion > fromVersion && change.storageKey == storageKey {
                    backlog.append(change)
                }
            } else {
                let bucket = s.objects[storageKey] ?? [:]
                snapshot = bucket.keys.sorted().compactMap { bucket[$0] }
            }
            s.watchers[id] = Watcher(storageKey: storageKey, continuation: continuation)
            return .success(Subscription(id: id, backlog: backlog, stream: stream, startVersion: s.resourceVersion, snapshot: snapshot))
        }
        let subscription = try result.get()
        continuation.onTermination = { [weak self] _ in self?.unwatch(id) }
        return subscription
    }

    /// Ends a watch registration.
    public func unwatch(_ id: UUID) {
        let c = state.withLock { $0.watchers.removeValue(forKey: id) }
        c?.continuation.finish()
    }

    /// Ends every watch (shutdown).
    public func finishAllWatches() {
        let all = state.withLock { s -> [Watcher] in
            let w = Array(s.watchers.values)
            s.watchers.removeAll()
            return w
        }
        for w in all { w.continuation.finish() }
    }

    /// Number of open watches.
    public var watchCount: Int { state.withLock { $0.watchers.count } }
}
