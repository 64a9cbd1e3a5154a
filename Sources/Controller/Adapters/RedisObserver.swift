import BatchCore
import CeleryRedis
import Logging
import Synchronization

/// The Celery queues as the CeleryRedis probe (one pipelined round trip in steady state) and heartbeat listener see them.
/// The set of queues follows the BatchQueues: a probe for a new set is made (on the same connection) when it changes.
public final class RedisObserver: QueueObserver {
    let client: RedisClient
    let layout: CeleryLayout
    private let probe: Mutex<QueueProbe?>
    let listener: WorkerActivityListener
    private let logger: Logger?
    /// The controller's wall clock: stamps the probe's observations and judges heartbeat freshness.
    private let clock: WallClock
    /// The server of the last observation and of the listener, and how many observations were made.
    private let seen = Mutex<(probe: RedisSource?, listener: RedisSource?, observations: Int)>((nil, nil, 0))

    /// - Parameters:
    ///   - options: how to reach Redis (URL, password, timeouts; the sentinels, behind Sentinel).
    ///   - layout: Celery's key layout from the configuration.
    ///   - logger: where a change of the server read (a Sentinel failover) is logged.
    ///   - clock: the controller's wall clock (see `WallClock`).
    public init(options: RedisConnectionOptions, layout: CeleryLayout, logger: Logger? = nil, clock: @escaping WallClock = { .now }) {
        client = RedisClient(options: options)
        self.layout = layout
        probe = Mutex(nil)
        listener = WorkerActivityListener(options: options, layout: layout, clock: clock)
        self.logger = logger
        self.clock = clock
    }

    /// The server the last observation read (behind Sentinel, the master and the sentinel that named it).
    public var source: RedisSource? { client.source }

    /// Starts listening to worker heartbeats (on its own thread and connection).
    public func start() { listener.start() }

    /// Stops the listener and closes the probe's connection.
    public func stop() {
        listener.stop()
        client.close()
    }

    public func observe(queues names: [String]) async throws -> RedisSnapshot {
        let number = seen.withLock { s in
            s.observations += 1
            return s.observations
        }
        let probe = self.probe.withLock { p in
            if let current = p, current.queues == names { return current }
            let made = QueueProbe(client: client, layout: layout, queues: names, clock: clock)
            p = made
            return made
        }
        let result = try await probe.observe()
        logSourceChanges(observation: number)
        return RedisSnapshot(readings: result.queues, memory: result.memory, workers: listener.activeWorkers())
    }

    /// Logs when the server read or subscribed on changes (a Sentinel failover), with the observation's
    /// number (one per reconcile pass, failed ones included), so an operator (and a test) can tell how
    /// soon the controller followed the new master.
    private func logSourceChanges(observation count: Int) {
        let probeSource = client.source
        let listenerSource = listener.source
        let (probeMoved, listenerMoved) = seen.withLock { s in
            let probeMoved = probeSource != nil && probeSource != s.probe
            let listenerMoved = listenerSource != nil && listenerSource != s.listener
            if probeSource != nil { s.probe = probeSource }
            if listenerSource != nil { s.listener = listenerSource }
            return (probeMoved, listenerMoved)
        }
        if probeMoved, let source = probeSource {
            logger?.notice("Reading Redis", metadata: ["server": "\(source.server)", "sentinel": "\(source.sentinel ?? "none")",
                                                       "observation": "\(count)"])
        }
        if listenerMoved, let source = listenerSource {
            logger?.notice("Listening to worker heartbeats", metadata: ["server": "\(source.server)", "sentinel": "\(source.sentinel ?? "none")",
                                                                        "observation": "\(count)"])
        }
    }
}
