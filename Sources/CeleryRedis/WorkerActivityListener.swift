import BatchCore
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Listens to Celery worker events on the broker and keeps per-worker state (hostname, active tasks,
/// last seen; stale after two heartbeat intervals).
///
/// Celery 5.7 workers publish, even without `-E`, on the Redis channels
/// `<global_keyprefix>/<db>.celeryev/worker.{online,heartbeat,offline}` (measured with a real worker;
/// see `CeleryKeys.workerEventChannel`). The listener SUBSCRIBEs to those three on its own connection and
/// thread, and reconnects (with AUTH, capped backoff) after any error. Behind Sentinel it subscribes on the
/// master the sentinels name, asks the first sentinel every second whether that is still the master, and
/// resubscribes on the new one after a failover.
public final class WorkerActivityListener: Sendable {
    private let options: RedisConnectionOptions
    private let channels: [String]
    private let shared = Shared()
    private let thread: ConfinedThread<RedisConnection>
    /// When an event arrived, and the "now" staleness is judged at.
    private let clock: WallClock

    private final class Shared: Sendable {
        let registry = Mutex(WorkerRegistry())
        let stopping = Atomic<Bool>(false)
        let subscribed = Atomic<Bool>(false)
        let lastError = Mutex<String?>(nil)
        let undecodable = Atomic<Int>(0)
        let source = Mutex<RedisSource?>(nil)
    }

    /// - Parameters:
    ///   - options: the broker's Redis (the database number is part of the channel name).
    ///   - layout: for the global key prefix.
    ///   - clock: the wall clock events are stamped with and freshness is judged by (the controller's one clock).
    public init(options: RedisConnectionOptions, layout: CeleryLayout, clock: @escaping WallClock = { .now }) {
        self.options = options
        self.clock = clock
        let keys = CeleryKeys(layout: layout)
        channels = ["online", "heartbeat", "offline"].map { keys.workerEventChannel(database: options.url.database, event: $0) }
        thread = ConfinedThread(name: "celery events \(options.server)") { RedisConnection(options: options) }
    }

    /// Starts listening in the background. Call once.
    public func start() {
        let shared = self.shared
        let channels = self.channels
        let clock = self.clock
        if let failure = thread.startFailure {
            shared.lastError.withLock { $0 = failure.description }
            return
        }
        thread.submit { connection in Self.listen(connection, channels: channels, shared: shared, clock: clock) }
    }

    /// Stops listening and closes the connection.
    public func stop() {
        shared.stopping.store(true, ordering: .relaxed)
        thread.stop()
    }

    deinit { stop() }

    /// The workers seen so far (those silent for longer than the registry's expiry are forgotten first),
    /// stale or not as of `now` (default: the listener's clock).
    public func workers(now: Date? = nil) -> [WorkerStatus] {
        let now = now ?? clock().date
        return shared.registry.withLock {
            $0.expire(now: now)
            return $0.snapshot(now: now)
        }
    }

    /// The workers whose last heartbeat is fresh by the listener's clock, as the controller reads them.
    public func activeWorkers() -> [WorkerActivity] { workers().filter { !$0.stale }.map(\.activity) }

    /// Events dropped because their hostname is not `celery@<pod name>`, and workers forgotten to keep
    /// the registry within its capacity (see `WorkerRegistry`).
    public var ignoredEvents: (hostnames: Int, evicted: Int) {
        shared.registry.withLock { ($0.ignoredHostnames, $0.evicted) }
    }

    /// The server subscribed on (and the sentinel that named it), while subscribed.
    public var source: RedisSource? { shared.source.withLock { $0 } }

    /// Whether the subscription is in place right now.
    public var isSubscribed: Bool { shared.subscribed.load(ordering: .relaxed) }

    /// The last connection or decoding problem, if any (cleared when a subscription succeeds).
    public var lastError: String? { shared.lastError.withLock { $0 } }

    /// Messages on the channels that could not be read as worker events.
    public var undecodableMessages: Int { shared.undecodable.load(ordering: .relaxed) }

    /// The listening loop; runs on the listener's thread until `stop()`.
    private static func listen(_ connection: RedisConnection, channels: [String], shared: Shared, clock: WallClock) {
        var failures = 0
        var lastConfirmed = ContinuousClock.now
        while !shared.stopping.load(ordering: .relaxed) {
            do {
                // Behind Sentinel: a master that was demoted without dropping its clients sends nothing more.
                if connection.isConnected, ContinuousClock.now - lastConfirmed >= .seconds(1) {
                    lastConfirmed = ContinuousClock.now
                    if !connection.confirmMaster() {
                        connection.close()
                        shared.subscribed.store(false, ordering: .relaxed)
                        shared.source.withLock { $0 = nil }
                    }
                }
                if !connection.isConnected {
                    try connection.connect()
                    try connection.send([[b("SUBSCRIBE")] + channels.map(b)])
                    lastConfirmed = ContinuousClock.now
                    shared.subscribed.store(true, ordering: .relaxed)
                    shared.source.withLock { $0 = RedisSource(server: connection.server, sentinel: connection.resolvedVia?.description) }
                    shared.lastError.withLock { $0 = nil }
                    failures = 0
                }
                guard let push = try connection.nextPush(wait: .milliseconds(200)) else { continue }
                handle(push, shared: shared, receivedAt: clock().date)
            } catch {
                connection.close()
                shared.subscribed.store(false, ordering: .relaxed)
                shared.source.withLock { $0 = nil }
                shared.lastError.withLock { $0 = error.description }
                failures += 1
                // Capped backoff, in short sleeps so stop() is noticed.
                let backoff = ExponentialBackoff(initial: .milliseconds(100), maximum: connection.options.maxBackoff.duration)
                let deadline = ContinuousClock.now + backoff.delay(attempt: failures)
                while ContinuousClock.now < deadline && !shared.stopping.load(ordering: .relaxed) {
                    usleep(20_000)
                }
            }
        }
        connection.close()
        shared.subscribed.store(false, ordering: .relaxed)
    }

    /// Handles one pushed reply: `["message", channel, payload]` (subscribe confirmations are ignored).
    private static func handle(_ push: RedisValue, shared: Shared, receivedAt now: Date) {
        guard let parts = push.array, parts.count == 3, parts[0].text == "message", case let .string(payload) = parts[2] else { return }
        do {
            guard let event = try WorkerEvent.decode(payload) else { return }
            shared.registry.withLock { $0.apply(event, receivedAt: now) }
        } catch {
            shared.undecodable.add(1, ordering: .relaxed)
            // The description may quote the payload: keep it short, whatever a publisher sent.
            shared.lastError.withLock { $0 = String(error.description.prefix(512)) }
        }
    }
}
