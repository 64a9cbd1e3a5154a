import BatchCore
import Prometheus
import Synchronization

/// A metric's full name and help text.
private func d(_ name: String, _ help: String) -> MetricNameDescriptor {
    MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
}

/// The controller's Prometheus metrics, created once per queue and updated after every pass.
public final class ControllerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()

    struct QueueGauges {
        let depth, inFlight, stranded, busy, current, desired, expiry: Gauge
        let phases: [BatchQueuePhase: Gauge]
    }
    private let queues = Mutex<[String: QueueGauges]>([:])
    private let kubeRequests = Mutex<[String: Counter]>([:])
    /// Usage counters by their labels (queue, holder, state; or queue alone for tasks).
    private let usageCounters = Mutex<[String: Counter]>([:])
    private let reconcileDuration: DurationHistogram
    private let reconcileResults: [String: Counter]
    /// By `PassStep.label`.
    private let reconcileFailures: [String: Counter]
    private let redisErrors: Counter
    private let redisUp: Gauge
    private let leader: Gauge
    private let skippedObjects: [String: Gauge]
    private let webhookResults: [String: Counter]
    private let guardGauges = Mutex<[String: Gauge]>([:])
    private let guardHolds = Mutex<[String: Counter]>([:])

    public init(version: String = BatchctlVersion.current) {
        let registry = self.registry
        reconcileDuration = registry.makeDurationHistogram(
            descriptor: d("batchctl_reconcile_duration_seconds", "Time for one reconcile pass (observe, decide, act)."),
            buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                      .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5)])
        reconcileResults = Dictionary(uniqueKeysWithValues: ["ok", "error"].map {
            ($0, registry.makeCounter(descriptor: d("batchctl_reconcile_total", "Reconcile passes by result."), labels: [("result", $0)]))
        })
        reconcileFailures = Dictionary(uniqueKeysWithValues: PassStep.labels.map {
            ($0, registry.makeCounter(descriptor: d("batchctl_reconcile_failures_total", "Failures in reconcile passes by step: read_cluster, clamp, deletion_cost, scale, clear_reservation, status, event, notify (the log names the queue and the error)."), labels: [("step", $0)]))
        })
        redisErrors = registry.makeCounter(descriptor: d("batchctl_redis_errors_total", "Passes in which Redis could not be read."))
        redisUp = registry.makeGauge(descriptor: d("batchctl_redis_up", "1 when the last pass read Redis, 0 when it could not."))
        webhookResults = Dictionary(uniqueKeysWithValues: ["sent", "failed", "dropped"].map {
            ($0, registry.makeCounter(descriptor: d("batchctl_webhook_notifications_total", "Reminders posted to the webhook by result: sent, failed (after retries), dropped (backlog full or shutdown)."), labels: [("result", $0)]))
        })
        skippedObjects = Dictionary(uniqueKeysWithValues: ["BatchQueue", "Deployment", "Pod"].map {
            ($0, registry.makeGauge(descriptor: d("batchctl_undecodable_objects", "Objects left out of reconciling because they do not decode (named in the log, /readyz and, for a BatchQueue, an Event)."), labels: [("kind", $0)]))
        })
        leader = registry.makeGauge(descriptor: d("batchctl_leader", "1 on the controller replica that holds the leader Lease."))
        registry.makeGauge(descriptor: d("batchctl_build_info", "batchctl's version."), labels: [("version", version)]).set(to: 1)
    }

    /// Records one pass.
    public func record(_ report: PassReport, queues: [BatchQueue], duration: Duration) {
        reconcileDuration.record(duration)
        reconcileResults[report.failures.isEmpty ? "ok" : "error"]?.increment()
        for failure in report.failures { reconcileFailures[failure.step.label]?.increment() }
        if report.redisProblem != nil { redisErrors.increment() }
        redisUp.set(to: report.redisProblem == nil ? 1 : 0)
        for (kind, gauge) in skippedObjects { gauge.set(to: Double(report.skipped.filter { $0.kind == kind }.count)) }
        for (queue, deltas) in report.usageGrowth { recordUsage(queue: queue, deltas) }
        for q in queues {
            let name = q.metadata.name ?? q.queueName
            let g = gauges(for: name)
            let status = report.decisions[name]?.status ?? q.status
            if let s = status {
                if let depth = s.depth { g.depth.set(to: Double(depth)) }
                if let inFlight = s.inFlight { g.inFlight.set(to: Double(inFlight)) }
                if s.inFlight != nil { g.stranded.set(to: Double(s.stranded ?? 0)) }
                if let busy = s.busyWorkers { g.busy.set(to: Double(busy)) }
                g.current.set(to: Double(s.replicas ?? 0))
                g.desired.set(to: Double(s.desiredReplicas ?? s.replicas ?? 0))
                let phase = s.phase ?? .unknown
                for (p, gauge) in g.phases { gauge.set(to: p == phase ? 1 : 0) }
            }
            g.expiry.set(to: q.spec.reservation.map { Double($0.expiresAt.secondsSinceEpoch) } ?? 0)
            for guardName in report.decisions[name]?.heldBy ?? [] {
                counter(guardHolds, key: "\(name)\u{0}\(guardName)", d("batchctl_guard_holds_total", "Passes in which a guard held a claimed queue's ramp (no step up) or took a replica off."),
                        [("queue", name), ("guard", guardName)]).increment()
            }
        }
        for (guardName, reading) in report.guards {
            let healthy: Double = if case .healthy = reading { 1 } else { 0 }
            gauge(guardGauges, key: guardName, d("batchctl_guard_healthy", "1 when the guard's expression returned a result at the last read, 0 when it returned none or could not be read."),
                  [("guard", guardName)]).set(to: healthy)
        }
    }

    private func gauge(_ store: borrowing Mutex<[String: Gauge]>, key: String, _ descriptor: MetricNameDescriptor, _ labels: [(String, String)]) -> Gauge {
        Self.cached(store, key: key) { registry.makeGauge(descriptor: descriptor, labels: labels) }
    }

    private func counter(_ store: borrowing Mutex<[String: Counter]>, key: String, _ descriptor: MetricNameDescriptor, _ labels: [(String, String)]) -> Counter {
        Self.cached(store, key: key) { registry.makeCounter(descriptor: descriptor, labels: labels) }
    }

    /// The metric stored under `key`, made (and registered) the first time it is asked for.
    private static func cached<M: Sendable>(_ store: borrowing Mutex<[String: M]>, key: String, make: () -> M) -> M {
        store.withLock { all in
            if let m = all[key] { return m }
            let m = make()
            all[key] = m
            return m
        }
    }

    /// Counts one Kubernetes API request by verb and HTTP status code (0 for a transport error).
    public func recordKubeRequest(verb: String, code: Int) {
        let key = "\(verb) \(code)"
        let counter = kubeRequests.withLock { counters in
            if let c = counters[key] { return c }
            let c = registry.makeCounter(descriptor: d("batchctl_kube_requests_total", "Kubernetes API requests by verb and HTTP status code."),
                                         labels: [("verb", verb), ("code", "\(code)")])
            counters[key] = c
            return c
        }
        counter.increment()
    }

    /// Adds what a queue's written usage ledger grew by: replica-seconds by holder and state, tasks completed.
    func recordUsage(queue: String, _ deltas: [UsageLedger.Delta]) {
        func counter(_ name: String, _ help: String, _ labels: [(String, String)]) -> Counter {
            let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
            return usageCounters.withLock { all in
                if let c = all[key] { return c }
                let c = registry.makeCounter(descriptor: d(name, help), labels: labels)
                all[key] = c
                return c
            }
        }
        let secondsHelp = "Worker replica-seconds per claim holder, busy (running tasks) or idle, from the usage ledger in the BatchQueue status."
        for delta in deltas {
            let holder = delta.holder ?? ""
            if delta.busySeconds > 0 {
                counter("batchctl_replica_seconds_total", secondsHelp, [("queue", queue), ("holder", holder), ("state", "busy")]).increment(by: delta.busySeconds)
            }
            if delta.idleSeconds > 0 {
                counter("batchctl_replica_seconds_total", secondsHelp, [("queue", queue), ("holder", holder), ("state", "idle")]).increment(by: delta.idleSeconds)
            }
            if delta.tasks > 0 {
                counter("batchctl_tasks_completed_total", "Tasks the queue's workers completed (from their heartbeats' processed and active counts).",
                        [("queue", queue)]).increment(by: Int64(delta.tasks))
            }
        }
    }

    /// Counts one webhook delivery by result: `sent`, `failed` or `dropped`.
    public func recordWebhook(result: String) { webhookResults[result]?.increment() }

    public func setLeader(_ isLeader: Bool) { leader.set(to: isLeader ? 1 : 0) }

    /// The Prometheus text exposition.
    public func exposition() -> String { registry.emitToString() }

    private func gauges(for queue: String) -> QueueGauges {
        queues.withLock { all in
            if let g = all[queue] { return g }
            let l = [("queue", queue)]
            func gauge(_ name: String, _ help: String, _ labels: [(String, String)]) -> Gauge {
                registry.makeGauge(descriptor: d(name, help), labels: labels)
            }
            let replicasHelp = "Worker replicas, current and desired."
            let g = QueueGauges(
                depth: gauge("batchctl_queue_depth", "Tasks waiting in the queue's Redis lists (all priorities).", l),
                inFlight: gauge("batchctl_queue_inflight", "Tasks delivered to workers and not yet acknowledged.", l),
                stranded: gauge("batchctl_stranded_tasks", "In-flight tasks held by workers that died, waiting for Celery to redeliver them after its visibility timeout.", l),
                busy: gauge("batchctl_queue_busy_workers", "Workers of the queue's Deployment running tasks.", l),
                current: gauge("batchctl_replicas", replicasHelp, l + [("state", "current")]),
                desired: gauge("batchctl_replicas", replicasHelp, l + [("state", "desired")]),
                expiry: gauge("batchctl_reservation_expiry_timestamp_seconds", "When the queue's reservation expires (Unix time); 0 when the queue is free.", l),
                phases: Dictionary(uniqueKeysWithValues: BatchQueuePhase.allCases.map {
                    ($0, gauge("batchctl_queue_phase", "1 for the queue's current phase.", l + [("phase", $0.rawValue)]))
                }))
            all[queue] = g
            return g
        }
    }
}
