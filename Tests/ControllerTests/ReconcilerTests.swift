import BatchCore
import Controller
import Synchronization
import Testing

/// The reconciler against in-memory fakes of Redis and the cluster (the same passes run against real
/// Redis and KubeSim in the integration tests).
@Suite struct ReconcilerTests {
    let clock = TestClock()
    let redis = FakeObserver()
    let notifier = FakeNotifier()
    let cluster: FakeCluster

    init() {
        cluster = FakeCluster(queues: ["batch0", "batch1"])
    }

    func reconciler(_ config: BatchConfig = .defaults) -> Reconciler {
        let clock = self.clock
        return Reconciler(config: config, settings: .init(pollInterval: .seconds(1)), observer: redis, cluster: cluster,
                          notifier: notifier, clock: { clock.now })
    }

    /// A reconciler after one pass over batch1, claimed for 3 and at 3 replicas with the pods aaaaa, bbbbb and
    /// ccccc, the worker of pod `busy` running a task and `depth` tasks queued.
    func threePods(busy: String, depth: Int) async -> Reconciler {
        let r = reconciler()
        claim("batch1", replicas: 3)
        cluster.setReplicas("celery-batch1", 3)
        cluster.addPods("celery-batch1", ["celery-batch1-7d9f8-aaaaa", "celery-batch1-7d9f8-bbbbb", "celery-batch1-7d9f8-ccccc"])
        redis.set(["batch0": (0, 0), "batch1": (depth, 0)], workers: [WorkerActivity(hostname: "celery@celery-batch1-7d9f8-\(busy)", active: 1)])
        _ = await r.reconcileOnce()
        return r
    }

    /// A reconciler after two passes over batch1, claimed with a ceiling of 4 and 100 tasks waiting: ramped to 4.
    func rampedToFour() async -> Reconciler {
        let r = reconciler()
        claim("batch1")
        redis.set(["batch0": (0, 0), "batch1": (100, 0)])
        _ = await r.reconcileOnce()
        clock.advance(30)
        _ = await r.reconcileOnce()
        return r
    }

    func claim(_ name: String, replicas: Int = 4, for seconds: Int64 = 3 * 86_400) {
        let now = clock.now
        cluster.update(name) {
            $0.spec.reservation = Reservation(holder: "alice", reason: "rehash", claimedAt: now,
                                              expiresAt: KubeTime(secondsSinceEpoch: now.secondsSinceEpoch + seconds), replicas: replicas)
        }
    }

    @Test func aClaimWithWorkRampsInStepsAndEachStepIsOneWrite() async {
        let r = reconciler()
        redis.set(["batch0": (0, 0), "batch1": (400, 0)])
        claim("batch1")
        _ = await r.reconcileOnce()
        #expect(cluster.replicas("celery-batch1") == 2)
        clock.advance(10)
        _ = await r.reconcileOnce()
        #expect(cluster.replicas("celery-batch1") == 2)
        clock.advance(20)
        _ = await r.reconcileOnce()
        #expect(cluster.replicas("celery-batch1") == 4)
        #expect(cluster.writes.filter { $0.hasPrefix("scale") } == ["scale celery-batch1 2", "scale celery-batch1 4"])
        #expect(cluster.queue("batch1").status?.phase == .running)
        #expect(cluster.queue("batch0").status?.phase == .free)
    }

    @Test func aDrainedQueueSleepsAfterIdleAfterAndWakesOnWork() async {
        let r = reconciler()
        claim("batch1")
        cluster.setReplicas("celery-batch1", 4)
        redis.set(["batch0": (0, 0), "batch1": (5, 0)])
        _ = await r.reconcileOnce()
        redis.set(["batch0": (0, 0), "batch1": (0, 0)])
        clock.advance(1)                                   // the first pass without work starts the idle clock
        _ = await r.reconcileOnce()
        clock.advance(899)
        _ = await r.reconcileOnce()
        #expect(cluster.replicas("celery-batch1") == 4)
        clock.advance(1)
        _ = await r.reconcileOnce()
        #expect(cluster.replicas("celery-batch1") == 0)
        #expect(cluster.queue("batch1").status?.phase == .sleeping)
        #expect(cluster.events.map(\.reason) == ["QueueSleeping"])
        #expect(notifier.sent.withLock { $0 } == [.sleeping])
        redis.set(["batch0": (0, 0), "batch1": (1, 0)])
        clock.advance(1)
        _ = await r.reconcileOnce()
        #expect(cluster.replicas("celery-batch1") == 2)
    }

    @Test func nothingChangingMeansNoWritesForSixtyPasses() async {
        let r = reconciler()
        claim("batch1")
        redis.set(["batch0": (0, 0), "batch1": (0, 0)])
        _ = await r.reconcileOnce()
        let settled = cluster.writes.count
        for _ in 0..<60 {
            clock.advance(1)
            let report = await r.reconcileOnce()
            #expect(report.failures.isEmpty)
        }
        #expect(cluster.writes.count == settled)
    }

    @Test func redisDownHoldsReplicasAndSaysSoThenRecovers() async {
        let r = await rampedToFour()
        #expect(cluster.replicas("celery-batch1") == 4)
        redis.fail()
        clock.advance(2)
        let reused = await r.reconcileOnce()
        #expect(reused.redisProblem == nil)   // within 3 polls the last reading stands
        clock.advance(5)
        let down = await r.reconcileOnce()
        #expect(down.redisProblem?.contains("connection refused") == true)
        #expect(cluster.replicas("celery-batch1") == 4)
        #expect(cluster.queue("batch1").status?.phase == .unknown)
        let condition = cluster.queue("batch1").status?.conditions?.first { $0.type == ConditionType.redisReachable }
        #expect(condition?.status == "False")
        #expect(condition?.message.contains("connection refused") == true)
        redis.set(["batch0": (0, 0), "batch1": (100, 0)])
        clock.advance(1)
        _ = await r.reconcileOnce()
        #expect(cluster.queue("batch1").status?.phase == .running)
        #expect(cluster.queue("batch1").status?.conditions?.first { $0.type == ConditionType.redisReachable }?.status == "True")
    }

    @Test func replicasChangedByHandAreRestoredWithOneEvent() async {
        let r = await rampedToFour()
        clock.advance(1)
        _ = await r.reconcileOnce()
        cluster.setReplicas("celery-batch1", 9)   // kubectl scale
        clock.advance(1)
        _ = await r.reconcileOnce()
        clock.advance(1)
        _ = await r.reconcileOnce()
        #expect(cluster.replicas("celery-batch1") == 4)
        #expect(cluster.events.map(\.reason) == ["ScaleRestored"])
        #expect(cluster.events.first?.isWarning == true)
    }

    @Test func busyPodsAreMadeExpensiveBeforeAScaleDown() async {
        let r = await threePods(busy: "bbbbb", depth: 10)
        claim("batch1", replicas: 1)
        clock.advance(1)
        _ = await r.reconcileOnce()
        #expect(cluster.replicas("celery-batch1") == 1)
        #expect(cluster.pod("celery-batch1-7d9f8-bbbbb")?.deletionCost == 1000)
        #expect(cluster.pod("celery-batch1-7d9f8-aaaaa")?.deletionCost == 0)
        let writes = cluster.writes
        let lastCost = writes.lastIndex { $0.hasPrefix("cost") }!
        let scaleDown = writes.firstIndex(of: "scale celery-batch1 1")!
        #expect(lastCost < scaleDown)
    }

    @Test("hostile heartbeats: active 2^63−1 saturates at int32's maximum cost; x@<pod> is not one of our workers")
    func hostileActiveCountsNeitherTrapNorLeaveInt32() async {
        let r = reconciler()
        claim("batch1", replicas: 3)
        cluster.setReplicas("celery-batch1", 3)
        cluster.addPods("celery-batch1", ["celery-batch1-7d9f8-aaaaa", "celery-batch1-7d9f8-bbbbb", "celery-batch1-7d9f8-ccccc"])
        redis.set(["batch0": (0, 0), "batch1": (10, 0)], workers: [
            WorkerActivity(hostname: "celery@celery-batch1-7d9f8-bbbbb", active: Int.max),
            WorkerActivity(hostname: "worker@celery-batch1-7d9f8-aaaaa", active: Int.max),
        ])
        _ = await r.reconcileOnce()
        claim("batch1", replicas: 1)
        clock.advance(1)
        _ = await r.reconcileOnce()
        #expect(cluster.replicas("celery-batch1") == 1)
        #expect(cluster.pod("celery-batch1-7d9f8-bbbbb")?.deletionCost == Int(Int32.max))
        #expect(cluster.pod("celery-batch1-7d9f8-aaaaa")?.deletionCost == 0)
    }

    @Test("a busy worker whose pod is not ready: the ReplicaSet would remove it first, so the scale-down stops short of it")
    func aBusyPodThatIsNotReadyHoldsTheScaleDown() async {
        let r = reconciler()
        claim("batch1", replicas: 3)
        cluster.setReplicas("celery-batch1", 3)
        cluster.addPods("celery-batch1", ["celery-batch1-7d9f8-aaaaa", "celery-batch1-7d9f8-bbbbb", "celery-batch1-7d9f8-ccccc"])
        cluster.setReady("celery-batch1-7d9f8-aaaaa", false)    // idle, not ready: goes first
        cluster.setReady("celery-batch1-7d9f8-bbbbb", false)    // busy, not ready: would go second
        redis.set(["batch0": (0, 0), "batch1": (10, 0)], workers: [WorkerActivity(hostname: "celery@celery-batch1-7d9f8-bbbbb", active: 1)])
        _ = await r.reconcileOnce()
        claim("batch1", replicas: 1)
        clock.advance(1)
        _ = await r.reconcileOnce()
        #expect(cluster.replicas("celery-batch1") == 2)          // only the idle pod that is not ready goes
        cluster.setReady("celery-batch1-7d9f8-bbbbb", true)     // ready again: deletion cost protects it
        clock.advance(1)
        _ = await r.reconcileOnce()
        #expect(cluster.replicas("celery-batch1") == 1)
    }

    @Test func aReplicaThatCannotProveItLeadsWritesNothing() async {
        let leading = Atomic<Bool>(true)
        let clock = self.clock
        let r = Reconciler(config: .defaults, settings: .init(pollInterval: .seconds(1)), observer: redis, cluster: cluster,
                           writeFence: { leading.load(ordering: .relaxed) }, clock: { clock.now })
        claim("batch1", replicas: 2)
        redis.set(["batch0": (0, 0), "batch1": (10, 0)])
        leading.store(false, ordering: .relaxed)
        let report = await r.reconcileOnce()
        #expect(cluster.writes.isEmpty)
        #expect(!report.failures.isEmpty && report.failures.allSatisfy { $0.error is NotLeading })
        leading.store(true, ordering: .relaxed)
        _ = await r.reconcileOnce()
        #expect(cluster.replicas("celery-batch1") == 2)
    }

    @Test func aReleaseWhileBusyStopsIdleWorkersAndAnnouncesDrainingOnce() async {
        let r = await threePods(busy: "ccccc", depth: 0)
        cluster.update("batch1") { $0.spec.reservation = nil }
        for _ in 0..<3 {
            clock.advance(1)
            _ = await r.reconcileOnce()
        }
        #expect(cluster.replicas("celery-batch1") == 1)
        #expect(cluster.pod("celery-batch1-7d9f8-ccccc")?.deletionCost == 1000)
        #expect(cluster.events.map(\.reason) == ["DrainingBusyWorkers"])
        #expect(cluster.events.first?.isWarning == false)
        #expect(cluster.queue("batch1").status?.phase == .free)
        #expect(cluster.queue("batch1").status?.conditions?.first { $0.type == ConditionType.draining }?.status == "True")
        // The task ends: the last worker stops, and the condition says the queue drained.
        redis.set(["batch0": (0, 0), "batch1": (0, 0)], workers: [WorkerActivity(hostname: "celery@celery-batch1-7d9f8-ccccc", active: 0)])
        clock.advance(1)
        _ = await r.reconcileOnce()
        #expect(cluster.replicas("celery-batch1") == 0)
        #expect(cluster.queue("batch1").status?.conditions?.first { $0.type == ConditionType.draining }?.reason == "Drained")
        #expect(cluster.events.map(\.reason) == ["DrainingBusyWorkers"])
    }

    @Test func busyAwarenessOffWritesNoDeletionCosts() async {
        var config = BatchConfig.defaults
        config.busyAware = false
        let r = reconciler(config)
        claim("batch1", replicas: 3)
        cluster.setReplicas("celery-batch1", 3)
        cluster.addPods("celery-batch1", ["celery-batch1-7d9f8-aaaaa", "celery-batch1-7d9f8-bbbbb"])
        redis.set(["batch0": (0, 0), "batch1": (10, 0)], workers: [WorkerActivity(hostname: "celery@celery-batch1-7d9f8-bbbbb", active: 1)])
        _ = await r.reconcileOnce()
        claim("batch1", replicas: 1)
        clock.advance(1)
        _ = await r.reconcileOnce()
        #expect(cluster.replicas("celery-batch1") == 1)
        #expect(!cluster.writes.contains { $0.hasPrefix("cost") })
    }

    @Test func aReminderIsSentOnlyAfterItsRecordIsStoredAndOnlyOnce() async {
        let r = reconciler()
        redis.set(["batch0": (0, 0), "batch1": (25, 0)])   // tasks on unclaimed batch1
        await aPassWhoseStatusWriteFailsThenTwoThatSucceed(r)
        #expect(cluster.events.map(\.reason) == ["OrphanedTasks"])
        #expect(notifier.sent.withLock { $0 } == [.orphaned])
        #expect(cluster.queue("batch1").status?.phase == .orphaned)
    }

    @Test func anExpiredClaimIsClearedAndScaledToZero() async {
        let r = reconciler()
        claim("batch1", for: 60)
        cluster.setReplicas("celery-batch1", 4)
        redis.set(["batch0": (0, 0), "batch1": (0, 0)])
        clock.advance(61)
        _ = await r.reconcileOnce()
        #expect(cluster.queue("batch1").spec.reservation == nil)
        #expect(cluster.replicas("celery-batch1") == 0)
        #expect(cluster.events.map(\.reason).contains("ReservationExpired"))
    }

    /// One pass whose status write fails (no Event may follow it), then two passes that write.
    func aPassWhoseStatusWriteFailsThenTwoThatSucceed(_ r: Reconciler) async {
        cluster.failStatusWrites(true)
        let failed = await r.reconcileOnce()
        #expect(cluster.events.isEmpty)
        // Typed outcomes: which queue, which step, the error; the log line reads as before.
        let statusFailures = failed.failures.filter { $0.step == .status }
        #expect(!statusFailures.isEmpty && failed.failures.allSatisfy { $0.step == .status })
        #expect(statusFailures.contains { "\($0)" == "batch1: writing status: 500 Internal Server Error" })
        cluster.failStatusWrites(false)
        for _ in 0..<2 {
            clock.advance(1)
            _ = await r.reconcileOnce()
        }
    }

    /// `Warning Reason` / `Normal Reason` of the Events recorded, in order.
    var eventsByType: [String] { cluster.events.map { "\($0.isWarning ? "Warning" : "Normal") \($0.reason)" } }

    func workersCondition(_ name: String) -> Condition? {
        cluster.queue(name).status?.conditions?.first { $0.type == ConditionType.workersMisconfigured }
    }

    @Test func theWorkersConditionAppearsAndClearsWithTheMisconfigurationOneEventEachWay() async throws {
        let r = reconciler()
        redis.set(["batch0": (0, 0), "batch1": (0, 0)])
        let good = ["sh", "-c", "exec celery -A cl worker -Q batch1 --hostname celery@$(POD_NAME)"]
        cluster.setWorkerArguments("celery-batch1", good)
        _ = await r.reconcileOnce()
        #expect(workersCondition("batch1")?.status == "False")
        #expect(workersCondition("batch1")?.reason == "WorkersOK")
        #expect(workersCondition("batch0") == nil)          // its Deployment's command is not known
        #expect(cluster.events.isEmpty)

        cluster.setWorkerArguments("celery-batch1", ["celery", "-A", "cl", "worker", "-Q", "batch9", "--hostname", "celery@$(POD_NAME)"])
        for _ in 0..<3 {
            clock.advance(10)
            _ = await r.reconcileOnce()
        }
        let bad = try #require(workersCondition("batch1"))
        #expect(bad.status == "True")
        #expect(bad.reason == "WrongQueue")
        #expect(bad.message == "celery-batch1 -Q: consumes batch9, but its BatchQueue's spec.queue is batch1; fix: make the worker command '-Q batch1', or set the BatchQueue's spec.queue to the queue it consumes. 'batchctl doctor' shows the same checks.")
        #expect(eventsByType == ["Warning WorkersMisconfigured"])
        #expect(cluster.events.first?.note == bad.message)

        cluster.setWorkerArguments("celery-batch1", good)
        for _ in 0..<3 {
            clock.advance(10)
            _ = await r.reconcileOnce()
        }
        #expect(workersCondition("batch1")?.status == "False")
        #expect(eventsByType == ["Warning WorkersMisconfigured", "Normal WorkersOK"])
        #expect(cluster.events.last?.note == "Deployment celery-batch1's workers consume batch1 and are named after their pods.")
    }

    @Test func theWorkersEventWaitsForTheConditionToBeStored() async {
        let r = reconciler()
        redis.set(["batch0": (0, 0), "batch1": (0, 0)])
        cluster.setWorkerArguments("celery-batch1", ["celery", "worker", "-Q", "batch1", "--hostname", "worker1@laptop"])
        await aPassWhoseStatusWriteFailsThenTwoThatSucceed(r)
        #expect(workersCondition("batch1")?.reason == "HostnameNotPod")
        #expect(cluster.events.map(\.reason) == ["WorkersMisconfigured"])
    }

    @Test func aCommandNoLongerSetClearsTheConditionItCannotCheckAnyMore() async {
        let r = reconciler()
        redis.set(["batch0": (0, 0), "batch1": (0, 0)])
        cluster.setWorkerArguments("celery-batch1", [])
        _ = await r.reconcileOnce()
        #expect(workersCondition("batch1") == nil)        // the image's own command: nothing to say
        cluster.setWorkerArguments("celery-batch1", ["celery", "worker"])
        clock.advance(1)
        _ = await r.reconcileOnce()
        #expect(workersCondition("batch1")?.status == "True")
        cluster.setWorkerArguments("celery-batch1", [])
        clock.advance(1)
        _ = await r.reconcileOnce()
        #expect(workersCondition("batch1")?.reason == "CommandNotSet")
        #expect(eventsByType == ["Warning WorkersMisconfigured", "Normal CommandNotSet"])
    }
}
