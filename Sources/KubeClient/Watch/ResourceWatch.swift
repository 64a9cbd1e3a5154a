import BatchCore
import FoundationEssentials
import MemberwiseInit
import Synchronization

/// How a `ResourceWatch` lists and watches.
@MemberwiseInit(.public)
public struct WatchOptions: Sendable {
    public var labelSelector: String?
    public var fieldSelector: String?
    /// The server-side watch timeout is picked at random in this range, as client-go's reflector (5–10 min).
    public var timeoutSeconds: ClosedRange<Int> = 300...600
    /// Backoff after failures (800 ms doubling to 30 s, reset after 2 min without failure).
    public var backoff: RetryPolicy = .standard
    public var backoffResetAfter: Duration = .seconds(120)
    /// Page size for the list.
    public var pageSize: Int = 500
}

/// Counters a test or a metrics endpoint can read.
public struct WatchStatistics: Sendable, Equatable {
    /// Successful lists (the first one and relists).
    public var lists = 0
    /// Watch requests started.
    public var watches = 0
    /// 410 Expired answers (HTTP status or ERROR event).
    public var expired = 0
    /// Other failed lists or watches (each followed by a backoff).
    public var failures = 0
}

extension KubeClient {
    /// List, then watch, like client-go's reflector: the list's resourceVersion starts the watch (with bookmarks and
    /// a random 5–10 minute timeout); a cleanly ended watch resumes from the last resourceVersion seen; 410 Expired
    /// (as HTTP status or ERROR event) relists; failures back off. Each object state is delivered once: events
    /// already seen are dropped, and a relist sends only the differences, then `.synced`.
    ///
    /// Ending the iteration (break, or cancelling the task) stops the HTTP transfer within about a second.
    public func watch<T: KubeResource>(_ type: T.Type, namespace: String? = nil,
                                       options: WatchOptions = WatchOptions()) -> AsyncThrowingStream<ResourceEvent<T>, any Error> {
        watchWithStatistics(type, namespace: namespace, options: options).events
    }

    /// `watch` plus a live view of its counters (lists, watches, expirations, failures).
    public func watchWithStatistics<T: KubeResource>(_ type: T.Type, namespace: String? = nil, options: WatchOptions = WatchOptions())
        -> (events: AsyncThrowingStream<ResourceEvent<T>, any Error>, statistics: @Sendable () -> WatchStatistics) {
        let (stream, continuation) = AsyncThrowingStream<ResourceEvent<T>, any Error>.makeStream()
        let reflector = Reflector<T>(client: self, namespace: namespace ?? self.namespace, options: options)
        let task = Task {
            do {
                try await reflector.run(continuation)
                continuation.finish()
            } catch is CancellationError {
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return (stream, { reflector.statistics })
    }
}

/// The list+watch loop behind `KubeClient.watch`.
final class Reflector<T: KubeResource>: Sendable {
    let client: KubeClient
    let namespace: String
    let options: WatchOptions
    private let stats = SendableBox(WatchStatistics())

    init(client: KubeClient, namespace: String, options: WatchOptions) {
        self.client = client
        self.namespace = namespace
        self.options = options
    }

    var statistics: WatchStatistics { stats.value }

    func run(_ out: AsyncThrowingStream<ResourceEvent<T>, any Error>.Continuation) async throws {
        var store: [String: T] = [:]
        /// Objects that do not decode, by key (each reported once per state).
        var invalid: [String: UndecodableObject] = [:]
        var lastRV = ""
        var needList = true
        var backoff = Backoff(policy: options.backoff, resetAfter: options.backoffResetAfter)
        var unauthorizedStreak = 0

        while true {
            try Task.checkCancellation()
            if needList {
                let list: KubeList<T>
                do {
                    list = try await client.list(T.self, namespace: namespace, labelSelector: options.labelSelector,
                                                 fieldSelector: options.fieldSelector, pageSize: options.pageSize)
                } catch let error as KubeError {
                    stats.update { $0.failures += 1 }
                    if case .forbidden = error { throw error }
                    if case .unauthorized = error {
                        // The transport already re-read the token once; allow a rotation in progress a few more tries.
                        unauthorizedStreak += 1
                        if unauthorizedStreak >= 3 { throw error }
                    }
                    try await Task.sleep(for: backoff.next())
                    continue
                }
                unauthorizedStreak = 0
                stats.update { $0.lists += 1 }
                var fresh: [String: T] = [:]
                for item in list.items {
                    let key = item.key
                    fresh[key] = item
                    if let old = store[key] {
                        if old.metadata.resourceVersion != item.metadata.resourceVersion { out.yield(.modified(item)) }
                    } else {
                        out.yield(.added(item))
                    }
                }
                for (key, old) in store.sorted(by: { $0.key < $1.key }) where fresh[key] == nil { out.yield(.deleted(old)) }
                store = fresh
                let bad = Dictionary(list.skipped.map { ($0.key, $0) }, uniquingKeysWith: { $1 })
                for (key, old) in invalid.sorted(by: { $0.key < $1.key }) where bad[key] == nil {
                    var gone = old
                    gone.gone = true
                    out.yield(.undecodable(gone))
                }
                for u in list.skipped where invalid[u.key] != u { out.yield(.undecodable(u)) }
                invalid = bad
                out.yield(.synced(list.items))
                lastRV = list.metadata.resourceVersion ?? ""
                needList = false
            }

            // Watch from lastRV.
            var query: [(String, String)] = [("watch", "true"), ("allowWatchBookmarks", "true"),
                                             ("timeoutSeconds", String(Int.random(in: options.timeoutSeconds)))]
            if !lastRV.isEmpty { query.append(("resourceVersion", lastRV)) }
            if let s = options.labelSelector, !s.isEmpty { query.append(("labelSelector", s)) }
            if let s = options.fieldSelector, !s.isEmpty { query.append(("fieldSelector", s)) }
            let request = KubeRequest(method: .get, path: T.resourceType.path(namespace: namespace), query: query)
            stats.update { $0.watches += 1 }
            let started = ContinuousClock.now
            var received = 0
            do {
                watchLoop: for try await line in client.transport.lines(request) {
                    let event: WatchEvent<T>
                    do {
                        event = try JSONDecoder().decode(WatchEvent<T>.self, from: Data(line))
                    } catch {
                        throw KubeError.decoding(message: "\(client.transport.serverHost): cannot decode a watch event of "
                            + "\(T.resourceType): \(KubeClient.describe(error))")
                    }
                    received += 1
                    unauthorizedStreak = 0
                    switch event {
                    case .added(let obj), .modified(let obj):
                        let key = obj.key
                        invalid[key] = nil
                        let rv = obj.metadata.resourceVersion ?? ""
                        if !rv.isEmpty { lastRV = rv }
                        if let old = store[key] {
                            if old.metadata.resourceVersion == rv && !rv.isEmpty { continue }   // seen already
                            store[key] = obj
                            out.yield(.modified(obj))
                        } else {
                            store[key] = obj
                            out.yield(.added(obj))
                        }
                    case .deleted(let obj):
                        invalid[obj.key] = nil
                        if let rv = obj.metadata.resourceVersion, !rv.isEmpty { lastRV = rv }
                        if store.removeValue(forKey: obj.key) != nil { out.yield(.deleted(obj)) }
                    case .undecodable(let u):
                        if let rv = u.resourceVersion, !rv.isEmpty { lastRV = rv }
                        if let old = store.removeValue(forKey: u.key) { out.yield(.deleted(old)) }
                        if u.gone {
                            if invalid.removeValue(forKey: u.key) != nil { out.yield(.undecodable(u)) }
                        } else if invalid[u.key] != u {
                            invalid[u.key] = u
                            out.yield(.undecodable(u))
                        }
                    case .bookmark(let rv):
                        if !rv.isEmpty { lastRV = rv }
                    case .error(let status):
                        let error = KubeError.from(httpCode: status.code ?? 500,
                                                   body: Array((try? JSONEncoder().encode(status)) ?? Data()))
                        throw error
                    }
                }
                // Clean end of stream (timeoutSeconds, or the server closed it): resume from lastRV.
                // A watch that ends at once with nothing in it backs off, so a misbehaving server is not hammered.
                if received == 0 && ContinuousClock.now - started < .seconds(1) {
                    try await Task.sleep(for: backoff.next())
                }
            } catch let error as KubeError {
                try Task.checkCancellation()
                switch error {
                case .expired:
                    stats.update { $0.expired += 1 }
                    needList = true      // relist at once, as client-go does
                case .tooManyRequests(let after, _):
                    stats.update { $0.failures += 1 }
                    try await Task.sleep(for: after ?? backoff.next())
                case .forbidden:
                    throw error
                case .unauthorized:
                    // The stream invalidated the cached credentials; relist with fresh ones, then give up.
                    unauthorizedStreak += 1
                    if unauthorizedStreak >= 3 { throw error }
                    stats.update { $0.failures += 1 }
                    needList = true
                    try await Task.sleep(for: backoff.next())
                case .transport:
                    stats.update { $0.failures += 1 }
                    try await Task.sleep(for: backoff.next())   // re-watch from lastRV; 410 there means relist
                default:
                    stats.update { $0.failures += 1 }
                    needList = true
                    try await Task.sleep(for: backoff.next())
                }
            }
        }
    }
}

/// A value behind a lock, shared between a loop and readers.
final class SendableBox<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>
    init(_ value: Value) { storage = Mutex(value) }
    var value: Value { storage.withLock { $0 } }
    func update(_ body: (inout Value) -> Void) { storage.withLock { body(&$0) } }
}
