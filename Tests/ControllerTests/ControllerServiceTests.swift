import BatchCore
import Controller
import Testing

@Suite struct ControllerServiceTests {
    @Test func onlyTheLeaderActsAndStoppingItHandsOver() async throws {
        let clock = TestClock()
        let leases = FakeLeaseStore()
        let redis = FakeObserver()
        redis.set(["batch1": (50, 0)])
        let cluster = FakeCluster(queues: [BatchQueue(metadata: ObjectMeta(name: "batch1", generation: 1),
                                                      spec: BatchQueueSpec(queue: "batch1", deployment: "celery-batch1"))])
        cluster.update("batch1") {
            $0.spec.reservation = Reservation(holder: "alice", claimedAt: clock.now, expiresAt: clock.now.adding(.days(2)), replicas: 2)
        }
        func service(_ id: String) -> ControllerService {
            let reconciler = Reconciler(config: .defaults, settings: .init(pollInterval: .milliseconds(100)), observer: redis,
                                        cluster: cluster, clock: { clock.now })
            let elector = LeaderElector(identity: id, store: leases,
                                        timings: .init(leaseDuration: .seconds(3), renewDeadline: .seconds(2), retryPeriod: .milliseconds(200)),
                                        now: { clock.now })
            return ControllerService(reconciler: reconciler, elector: elector, metrics: ControllerMetrics(), pollInterval: .milliseconds(50))
        }
        let a = service("a"), b = service("b")
        let runA = Task { try await a.run() }
        #expect(await waitUntil { a.isLeader && cluster.replicas("celery-batch1") == 2 })
        let runB = Task { try await b.run() }
        #expect(await waitUntil { b.isReady })
        #expect(!b.isLeader)
        #expect(a.respond(to: "/readyz").body == "ok: leading\n")
        #expect(b.respond(to: "/readyz").body == "ok: standby\n")
        #expect(a.respond(to: "/metrics").body.contains("batchctl_leader 1.0"))
        runA.cancel()
        _ = try? await runA.value
        #expect(leases.holder != "a")
        #expect(await waitUntil { b.isLeader })
        runB.cancel()
        _ = try? await runB.value
        #expect(leases.holder == "")
    }

    func waitUntil(_ condition: @escaping @Sendable () -> Bool) async -> Bool {
        for _ in 0..<200 {   // at most 10 s
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }
}
