import BatchCore
import Controller
import Synchronization
import Testing

/// A guard reader that counts its queries and answers what the test sets.
final class FakeGuards: GuardReader {
    let state = Mutex<(reads: [[String]], timeouts: [Duration], answer: [String: GuardReading])>(([], [], [:]))
    func set(_ answer: [String: GuardReading]) { state.withLock { $0.answer = answer } }
    var reads: [[String]] { state.withLock { $0.reads } }
    var timeouts: [Duration] { state.withLock { $0.timeouts } }
    func read(_ guards: [Guard], timeout: Duration) async -> [String: GuardReading] {
        state.withLock { s in
            s.reads.append(guards.map(\.name))
            s.timeouts.append(timeout)
            return Dictionary(guards.compactMap { g in s.answer[g.name].map { (g.expr, $0) } }, uniquingKeysWith: { a, _ in a })
        }
    }
}

/// The guards in the reconciler: read once per pass for all claimed queues, never while none is claimed,
/// with a timeout inside the poll interval; their readings drive `decide`.
@Suite struct GuardReconcilerTests {
    let clock = TestClock()
    let redis = FakeObserver()
    let guards = FakeGuards()
    let cluster: FakeCluster

    init() {
        cluster = FakeCluster(queues: ["batch0", "batch1", "batch2"])
        redis.set(["batch0": (50, 0), "batch1": (50, 0), "batch2": (50, 0)])
        var policy = QueuePolicy.defaults
        policy.guards = [Guard(name: "db", expr: "sum(pg_stat_activity_count) < 80"), Guard(name: "redis", expr: "redis_up == 1")]
        cluster.setPolicy(.found(policy))
    }

    func reconciler(poll: TimeSpan = .milliseconds(500)) -> Reconciler {
        let clock = self.clock
        var config = BatchConfig.defaults
        config.prometheus = PrometheusSettings(url: "http://prometheus:9090", timeout: .seconds(2))
        return Reconciler(config: config, settings: .init(pollInterval: poll), observer: redis, cluster: cluster, guards: guards,
                          clock: { clock.now })
    }

    func claim(_ name: String) {
        let now = clock.now.secondsSinceEpoch
        cluster.update(name) {
            $0.spec.reservation = Reservation(holder: "alice", claimedAt: KubeTime(secondsSinceEpoch: now),
                                              expiresAt: KubeTime(secondsSinceEpoch: now + 2 * 86_400), replicas: 6)
        }
    }

    @Test func eachGuardIsReadOncePerPassForEveryClaimedQueueAndNotWhileNoneIsClaimed() async {
        let r = reconciler()
        _ = await r.reconcileOnce()
        #expect(guards.reads.isEmpty)   // nothing claimed: no query

        claim("batch1")
        claim("batch2")
        guards.set(["db": .healthy(value: 12), "redis": .healthy(value: 1)])
        let report = await r.reconcileOnce()
        #expect(guards.reads == [["db", "redis"]])
        #expect(guards.timeouts == [.milliseconds(500)])   // inside the poll interval (prometheus.timeout is 2s)
        #expect(report.guards.count == 2)
        #expect(cluster.replicas("celery-batch1") == 2 && cluster.replicas("celery-batch2") == 2)
        #expect(cluster.queue("batch0").status?.guards == nil)
        #expect(cluster.queue("batch1").status?.guards?.map(\.state) == ["Healthy", "Healthy"])
    }

    @Test func aFailingGuardHoldsEveryClaimedQueueAndIsCountedPerQueue() async {
        let r = reconciler()
        claim("batch1")
        claim("batch2")
        guards.set(["db": .healthy(value: 12), "redis": .healthy(value: 1)])
        _ = await r.reconcileOnce()
        #expect(cluster.replicas("celery-batch1") == 2)

        guards.set(["db": .failing, "redis": .healthy(value: 1)])
        clock.advance(60)
        let report = await r.reconcileOnce()
        #expect(cluster.replicas("celery-batch1") == 2 && cluster.replicas("celery-batch2") == 2)
        #expect(report.decisions["batch1"]?.reason == .guardHeld)
        #expect(report.decisions["batch1"]?.heldBy == ["db"])
        #expect(cluster.queue("batch1").status?.conditions?.first { $0.type == ConditionType.guarded }?.reason == "GuardFailing")
        #expect(cluster.events.filter { $0.reason == "GuardTripped" }.count == 2)   // one per claimed queue, once

        let metrics = ControllerMetrics()
        metrics.record(report, queues: report.queues, duration: .milliseconds(1))
        let text = metrics.exposition()
        #expect(text.contains(#"batchctl_guard_healthy{guard="db"} 0"#))
        #expect(text.contains(#"batchctl_guard_healthy{guard="redis"} 1"#))
        #expect(text.contains(#"batchctl_guard_holds_total{queue="batch1",guard="db"} 1"#))
    }

    @Test func aQueuesOwnGuardIsReadOnlyWhileThatQueueIsClaimedAndASharedExpressionOnce() async {
        cluster.update("batch2") { $0.spec.guards = [QueueGuard(name: "es", expr: "max(es_queue) < 50"), QueueGuard(name: "db2", expr: "redis_up == 1")] }
        let r = reconciler()
        claim("batch1")
        guards.set(["db": .healthy(value: 1), "redis": .healthy(value: 1), "es": .failing])
        _ = await r.reconcileOnce()
        #expect(guards.reads == [["db", "redis"]])
        claim("batch2")
        _ = await r.reconcileOnce()
        #expect(guards.reads.last == ["db", "redis", "es"])   // db2 has redis's expression: read once for both
        #expect(cluster.queue("batch2").status?.guards?.map(\.name) == ["db", "redis", "es", "db2"])
        #expect(cluster.queue("batch2").status?.conditions?.first { $0.type == ConditionType.guarded }?.status == "True")
        #expect(cluster.queue("batch1").status?.conditions?.first { $0.type == ConditionType.guarded }?.status == "False")
    }

    @Test func withoutAPrometheusTheGuardsAreUnknownAndHold() async {
        let clock = self.clock
        let r = Reconciler(config: .defaults, settings: .init(pollInterval: .seconds(1)), observer: redis, cluster: cluster, clock: { clock.now })
        claim("batch1")
        let report = await r.reconcileOnce()
        #expect(cluster.replicas("celery-batch1") == 0)
        #expect(report.decisions["batch1"]?.reason == .guardHeld)
        let condition = cluster.queue("batch1").status?.conditions?.first { $0.type == ConditionType.guarded }
        #expect(condition?.reason == "GuardUnknown")
        #expect(condition?.message.contains("no Prometheus is configured: set prometheus.url") == true)
    }
}
