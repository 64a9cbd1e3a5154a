import BatchCore
import Controller
import Synchronization
import Testing

/// The usage ledger and release-when-done through the reconciler, against in-memory fakes.
@Suite struct UsageReconcilerTests {
    let clock = TestClock()
    let redis = FakeObserver()
    let notifier = FakeNotifier()
    let cluster = FakeCluster(queues: [BatchQueue(metadata: ObjectMeta(name: "batch1", namespace: "court-listener", generation: 1),
                                                  spec: BatchQueueSpec(queue: "batch1", deployment: "celery-batch1", maxReplicas: 20))])

    func reconciler() -> Reconciler {
        let clock = self.clock
        return Reconciler(config: .defaults, settings: .init(pollInterval: .seconds(1)), observer: redis, cluster: cluster,
                          notifier: notifier, clock: { clock.now })
    }

    /// Two running worker pods of batch1, started now.
    func runPods(_ names: [String]) {
        let started = clock.now
        cluster.state.withLock { s in
            s.pods = names.map { PodState(name: $0, labels: ["app": "celery-batch1"], workerStartedAt: started) }
        }
    }

    @Test("release when done: work, drained, idle for idleAfter: the claim is cleared, with the usage in the Event and the webhook; the ledger keeps it as WorkDone")
    func releaseWhenDone() async throws {
        let r = reconciler()
        let now = clock.now
        cluster.update("batch1") {
            $0.spec.reservation = Reservation(holder: "alice", claimedAt: now, expiresAt: KubeTime(secondsSinceEpoch: now.secondsSinceEpoch + 86_400),
                                              replicas: 2, releaseWhenDone: true)
        }
        redis.set(["batch1": (10, 0)])
        _ = await r.reconcileOnce()
        runPods(["celery-batch1-a-1", "celery-batch1-a-2"])
        clock.advance(60)
        redis.set(["batch1": (0, 0)], workers: [WorkerActivity(hostname: "celery@celery-batch1-a-1", active: 0, processed: 6),
                                                 WorkerActivity(hostname: "celery@celery-batch1-a-2", active: 0, processed: 4)])
        _ = await r.reconcileOnce()                       // no work from now: the idle clock starts
        #expect(cluster.queue("batch1").spec.reservation != nil)
        clock.advance(Int64(BatchConfig.defaults.idleAfter.milliseconds / 1000))
        _ = await r.reconcileOnce()
        let q = cluster.queue("batch1")
        #expect(q.spec.reservation == nil)
        #expect(cluster.replicas("celery-batch1") == 0)
        #expect(q.status?.phase == .free)
        let done = try #require(q.status?.usage?.history?.last)
        #expect(done.endReason == "WorkDone" && done.holder == "alice" && done.tasksCompleted == 10 && done.peakReplicas == 2)
        let event = try #require(cluster.events.first { $0.reason == "ReleasedWorkDone" })
        #expect(event.note.hasPrefix("released batch1 for alice: work done, 10 tasks, "), "\(event.note)")
        #expect(event.note.contains(" replica-hours"))
        #expect(notifier.sent.withLock { $0 }.contains(.releasedWorkDone))
        #expect(!cluster.events.contains { $0.reason == "QueueSleeping" })
    }

    @Test("a write that must not wait: a pod stopping is written at once; an unchanged idle queue writes nothing")
    func writesOnlyWhatMatters() async {
        let r = reconciler()
        let now = clock.now
        cluster.update("batch1") {
            $0.spec.reservation = Reservation(holder: "alice", claimedAt: now, expiresAt: KubeTime(secondsSinceEpoch: now.secondsSinceEpoch + 86_400), replicas: 2)
        }
        redis.set(["batch1": (100, 0)])
        runPods(["p1", "p2"].map { "celery-batch1-x-\($0)" })
        _ = await r.reconcileOnce()
        clock.advance(1)
        _ = await r.reconcileOnce()
        let before = cluster.writes.filter { $0.hasPrefix("status") }.count
        cluster.state.withLock { $0.pods.removeLast() }   // a pod stopped: written now, not after the 5 s interval
        clock.advance(1)
        _ = await r.reconcileOnce()
        #expect(cluster.writes.filter { $0.hasPrefix("status") }.count == before + 1)
        #expect(cluster.queue("batch1").status?.usage?.running == 1)
        // The stopped pod counted until last seen (1 s), the other for 2 s.
        #expect(cluster.queue("batch1").status?.usage?.current?.replicaSeconds == 3)
    }
}
