import BatchCore
import CeleryRedis
import FoundationEssentials
import Synchronization

/// The Celery queues as the CeleryRedis probe (one pipelined round trip) and heartbeat listener see them.
/// The set of queues follows the BatchQueues: a probe for a new set is made (on the same connection) when it changes.
public final class RedisObserver: QueueObserver {
    let client: RedisClient
    let layout: CeleryLayout
    private let probe: Mutex<QueueProbe?>
    let listener: WorkerActivityListener

    /// - Parameters:
    ///   - options: how to reach Redis (URL, password, timeouts).
    ///   - layout: Celery's key layout from the configuration.
    public init(options: RedisConnectionOptions, layout: CeleryLayout) {
        client = RedisClient(options: options)
        self.layout = layout
        probe = Mutex(nil)
        listener = WorkerActivityListener(options: options, layout: layout)
    }

    /// Starts listening to worker heartbeats (on its own thread and connection).
    public func start() { listener.start() }

    /// Stops the listener and closes the probe's connection.
    public func stop() {
        listener.stop()
        client.close()
    }

    public func observe(queues names: [String]) async throws -> RedisSnapshot {
        let probe = self.probe.withLock { p in
            if let current = p, current.queues == names { return current }
            let made = QueueProbe(client: client, layout: layout, queues: names)
            p = made
            return made
        }
        let result = try await probe.observe()
        var queues: [String: QueueReading] = [:]
        for q in result.queues {
            queues[q.name] = QueueReading(depth: q.depth, inFlight: q.inFlight, error: q.error)
        }
        let workers = listener.workers(now: Date()).filter { !$0.stale }.map { WorkerActivity(hostname: $0.hostname, active: $0.active) }
        return RedisSnapshot(queues: queues, memory: result.memory.map { RedisMemoryReading(used: Int64($0.usedMemory), max: Int64($0.maxMemory)) },
                             workers: workers)
    }
}
