import BatchCore
import CeleryRedis
import FoundationEssentials

/// The Celery queues as the CeleryRedis probe (one pipelined round trip in steady state) and heartbeat listener see them.
public final class RedisObserver: QueueObserver {
    let probe: QueueProbe
    let listener: WorkerActivityListener

    /// - Parameters:
    ///   - options: how to reach Redis (URL, password, timeouts).
    ///   - layout: Celery's key layout from the configuration.
    ///   - queues: the Celery queue names to probe.
    public init(options: RedisConnectionOptions, layout: CeleryLayout, queues: [String]) {
        probe = QueueProbe(client: RedisClient(options: options), layout: layout, queues: queues)
        listener = WorkerActivityListener(options: options, layout: layout)
    }

    /// Starts listening to worker heartbeats (on its own thread and connection).
    public func start() { listener.start() }

    /// Stops the listener and closes the probe's connection.
    public func stop() {
        listener.stop()
        probe.client.close()
    }

    public func observe() async throws -> RedisSnapshot {
        let result = try await probe.observe()
        var queues: [String: QueueReading] = [:]
        for q in result.queues {
            queues[q.name] = QueueReading(depth: q.depth, inFlight: q.inFlight, error: q.error, deliveries: q.deliveries)
        }
        let workers = listener.workers(now: Date()).filter { !$0.stale }.map { WorkerActivity(hostname: $0.hostname, active: $0.active) }
        return RedisSnapshot(queues: queues, memory: result.memory.map { RedisMemoryReading(used: Int64($0.usedMemory), max: Int64($0.maxMemory)) },
                             workers: workers)
    }
}
