import BatchCore
import Logging
import ServiceLifecycle
import Synchronization

/// `batchctl controller` as a service: a reconcile pass every poll interval while this replica leads,
/// leader election beside it, metrics after every pass, and on SIGTERM the Lease is released so a
/// standby takes over at once.
public final class ControllerService: Service, Sendable {
    let reconciler: Reconciler
    let elector: LeaderElector?
    let metrics: ControllerMetrics
    let pollInterval: Duration
    let nudges: AsyncStream<Void>?
    let logger: Logger
    private let state = Mutex<(ready: Bool, lastPass: ContinuousClock.Instant?, skipped: [SkippedObject])>((false, nil, []))

    /// - Parameters:
    ///   - elector: nil runs without leader election (one replica, or tests).
    ///   - nudges: extra passes between ticks, such as `KubeCluster.specChanges` (a claim is acted on at once).
    public init(reconciler: Reconciler, elector: LeaderElector?, metrics: ControllerMetrics, pollInterval: Duration,
                nudges: AsyncStream<Void>? = nil, logger: Logger = Logger(label: "batchctl.controller")) {
        self.reconciler = reconciler
        self.elector = elector
        self.metrics = metrics
        self.pollInterval = pollInterval
        self.nudges = nudges
        self.logger = logger
    }

    /// Ready once the cluster has been read; a standby is ready too, so it can take over.
    public var isReady: Bool { state.withLock { $0.ready } }

    /// Alive while passes (or standby checks) keep happening: none for 10 poll intervals means stuck.
    public var isLive: Bool {
        state.withLock { s in
            guard let last = s.lastPass else { return true }
            return ContinuousClock.now - last < pollInterval * 10 + .seconds(30)
        }
    }

    public var isLeader: Bool { elector?.isLeader ?? true }

    public func run() async throws {
        logger.notice("Controller started", metadata: ["pollInterval": "\(pollInterval)", "leaderElection": "\(elector != nil)"])
        try await withThrowingDiscardingTaskGroup { group in
            if let elector {
                group.addTask {
                    // Leader election ends when the group is cancelled below; the Lease is released after.
                    await elector.run()
                }
            }
            // A pass now, then one every poll interval and one on every nudge; triggers that arrive while a
            // pass runs collapse into one (the stream keeps only the newest).
            let (passes, trigger) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
            group.addTask { [pollInterval] in
                let clock = ContinuousClock()
                var next = clock.now
                while !Task.isCancelled {
                    trigger.yield()
                    next = max(next.advanced(by: pollInterval), clock.now)
                    do { try await clock.sleep(until: next) } catch { break }   // cancelled: the controller is stopping
                }
            }
            if let nudges {
                group.addTask {
                    for await _ in nudges { trigger.yield() }
                }
            }
            for await _ in passes.cancelOnGracefulShutdown() {
                metrics.setLeader(isLeader)
                if isLeader {
                    let start = ContinuousClock.now
                    let report = await reconciler.reconcileOnce()
                    metrics.record(report, queues: report.queues, duration: ContinuousClock.now - start)
                    state.withLock {
                        $0.ready = $0.ready || report.failures.allSatisfy { $0.step != .readCluster }
                        $0.lastPass = .now
                        $0.skipped = report.skipped
                    }
                } else {
                    let read = await reconciler.canReadCluster()
                    state.withLock {
                        $0.ready = $0.ready || read != nil
                        $0.lastPass = .now
                        if let read { $0.skipped = read }
                    }
                }
            }
            group.cancelAll()
        }
        // Hand the Lease back so a standby takes over at once (this task is shutting down gracefully,
        // not cancelled, so the request goes out).
        await elector?.release()
        metrics.setLeader(false)
        logger.notice("Controller stopped")
    }

    /// Answers `/metrics`, `/healthz` and `/readyz` for `HealthServer`.
    public func respond(to path: String) -> (status: Int, contentType: String, body: String) {
        switch path {
        case "/metrics": return (200, "text/plain; version=0.0.4; charset=utf-8", metrics.exposition())
        case "/healthz": return isLive ? (200, "text/plain; charset=utf-8", "ok\n") : (503, "text/plain; charset=utf-8", "no reconcile pass for too long\n")
        case "/readyz":
            // Objects that do not decode are named, but do not make the replica unready: the others reconcile.
            let skipped = state.withLock { $0.skipped }.map { "skipped: \($0)\n" }.joined()
            return isReady ? (200, "text/plain; charset=utf-8", (isLeader ? "ok: leading\n" : "ok: standby\n") + skipped)
                           : (503, "text/plain; charset=utf-8", "waiting for the first successful read of the cluster\n" + skipped)
        default: return (404, "text/plain; charset=utf-8", "not found; try /metrics, /healthz or /readyz\n")
        }
    }
}

extension Reconciler {
    /// Whether the cluster can be read (a standby's readiness): the objects left out, or nil when it cannot.
    func canReadCluster() async -> [SkippedObject]? {
        do {
            return try await cluster.snapshot().skipped
        } catch {
            logger.warning("Standby could not read the cluster", metadata: ["error": "\(error)"])
            return nil
        }
    }
}
