import BatchTesting
import Foundation
import Testing

/// `batchctl controller` end to end: a real redis-server, real Celery producers, KubeSim with the
/// project's CRD, and the built binary (poll 200 ms, ramp 2 per 2 s, idle after 3 s). Every wait is
/// bounded; the bounds are generous because the machine is shared, and no test asserts a duration.
@Suite(.serialized, .enabled(if: CeleryFixture.isAvailable, "needs the venv: make venv"))
struct ControllerIntegrationTests {
    func tasks(_ h: ControllerHarness, _ queue: String, _ count: Int) throws {
        #expect(try h.celery.produce(#"[{"queue": "\#(queue)", "count": \#(count)}]"#) == count)
    }

    /// Claims batch1 for 2 replicas, sends it `count` tasks once the controller has seen the claim (before that,
    /// they would rightly make it Orphaned, with a warning the tests count), and waits until it has them.
    func claimBatch1WithWork(_ h: ControllerHarness, tasks count: Int) throws {
        try h.claim("batch1", replicas: 2)
        #expect(Wait.until(timeout: .seconds(30)) { h.claimSeen("batch1") })
        try tasks(h, "batch1", count)
        #expect(Wait.until(timeout: .seconds(30)) { h.replicas("celery-batch1") == 2 })
    }

    @Test("a claim with work ramps in steps; the drained queue sleeps after idleAfter; new tasks wake it")
    func rampSleepWake() throws {
        let h = try ControllerHarness()
        defer { h.stop() }
        try h.startController()
        try tasks(h, "batch1", 40)
        try h.claim("batch1", replicas: 4)
        #expect(Wait.until(timeout: .seconds(30)) { h.replicas("celery-batch1") == 4 })
        #expect(try h.scaleWrites("celery-batch1") == [2, 4])          // one write per ramp step
        #expect(h.phase("batch1") == "Running")
        try h.redis.cli(["DEL", "batch1"])                               // the workers drained it
        #expect(Wait.until(timeout: .seconds(30)) { h.phase("batch1") == "Sleeping" })
        #expect(h.replicas("celery-batch1") == 0)
        #expect(try h.eventReasons("batch1").contains("QueueSleeping"))
        try tasks(h, "batch1", 1)
        #expect(Wait.until(timeout: .seconds(30)) { h.replicas("celery-batch1") == 2 })
        #expect(try h.scaleWrites("celery-batch1") == [2, 4, 0, 2])
    }

    @Test("release scales to zero; tasks left behind make the queue Orphaned with one warning")
    func releaseAndOrphaned() throws {
        let h = try ControllerHarness()
        defer { h.stop() }
        try h.startController()
        try claimBatch1WithWork(h, tasks: 10)
        try h.release("batch1")
        #expect(Wait.until(timeout: .seconds(30)) { h.replicas("celery-batch1") == 0 })
        #expect(Wait.until(timeout: .seconds(30)) { h.phase("batch1") == "Orphaned" })
        #expect(h.waitForPasses(15))                                     // 15 more passes: still one warning
        #expect(try h.eventReasons("batch1").filter { $0 == "OrphanedTasks" }.count == 1)
    }

    @Test("tasks on a queue nobody claimed: Orphaned, one warning event, no replicas")
    func orphanedTasks() throws {
        let h = try ControllerHarness()
        defer { h.stop() }
        try h.startController()
        try tasks(h, "batch2", 25)
        #expect(Wait.until(timeout: .seconds(30)) { h.phase("batch2") == "Orphaned" })
        #expect(h.waitForPasses(15))
        #expect(try h.eventReasons("batch2") == ["OrphanedTasks"])
        #expect(h.replicas("celery-batch2") == 0)
        #expect(try h.scaleWrites("celery-batch2").isEmpty)
    }

    @Test("an expired reservation is cleared and its workers scaled to zero")
    func expiry() throws {
        let h = try ControllerHarness()
        defer { h.stop() }
        try h.startController()
        try tasks(h, "batch1", 5)
        try h.claim("batch1", replicas: 2, expiresIn: 4)
        #expect(Wait.until(timeout: .seconds(30)) { h.replicas("celery-batch1") == 2 })
        #expect(Wait.until(timeout: .seconds(30)) { h.reservation("batch1") == nil })
        #expect(Wait.until(timeout: .seconds(30)) { h.replicas("celery-batch1") == 0 })
        #expect(try h.eventReasons("batch1").contains("ReservationExpired"))
    }

    @Test("Redis stopped: replicas held and a condition says so; Redis back: it recovers by itself")
    func redisOutage() throws {
        let h = try ControllerHarness()
        defer { h.stop() }
        try h.startController()
        try claimBatch1WithWork(h, tasks: 5)
        h.redis.stop()
        #expect(Wait.until(timeout: .seconds(30)) { h.condition("batch1", "RedisReachable")?.status == "False" })
        #expect(h.phase("batch1") == "Unknown")
        #expect((h.condition("batch1", "RedisReachable")?.message)?.contains("127.0.0.1:\(h.redis.port)") == true)
        #expect(h.waitForPasses(10))
        #expect(h.replicas("celery-batch1") == 2)                        // never down on missing data
        #expect(try h.scaleWrites("celery-batch1") == [2])
        try h.redis.start()
        try tasks(h, "batch1", 5)
        #expect(Wait.until(timeout: .seconds(30)) { h.condition("batch1", "RedisReachable")?.status == "True" })
        #expect(Wait.until(timeout: .seconds(30)) { h.phase("batch1") == "Running" })
    }

    @Test("kubectl scale by hand is restored, with one event")
    func handScalingRestored() throws {
        let h = try ControllerHarness()
        defer { h.stop() }
        try h.startController()
        try claimBatch1WithWork(h, tasks: 5)
        #expect(h.waitForPasses(5))
        let r = try h.sim.kubectl(["scale", "deployment", "celery-batch1", "-n", h.namespace, "--replicas=7"])
        #expect(r.status == 0)
        #expect(Wait.until(timeout: .seconds(30)) { (try? h.eventReasons("batch1"))?.contains("ScaleRestored") == true })
        #expect(h.waitForPasses(10))
        #expect(try h.eventReasons("batch1").filter { $0 == "ScaleRestored" }.count == 1)
    }

    @Test("60 passes with nothing changing make no writes but the Lease renewals")
    func quietPassesWriteNothing() throws {
        let h = try ControllerHarness(config: "idleAfter: 10m")
        defer { h.stop() }
        try h.startController()
        try h.claim("batch1", replicas: 2)
        try tasks(h, "batch1", 3)
        #expect(Wait.until(timeout: .seconds(30)) { h.replicas("celery-batch1") == 2 })
        // Status writes are throttled by time (at most one per 5 s per queue): no condition says a throttled
        // write is still due, so the test lets that interval pass before it starts counting.
        Thread.sleep(forTimeInterval: 6)
        try h.sim.clearRequests()
        let before = h.metric(#"batchctl_reconcile_total{result="ok"}"#) ?? 0
        #expect(Wait.until(timeout: .seconds(60)) { (h.metric(#"batchctl_reconcile_total{result="ok"}"#) ?? 0) >= before + 60 })
        let writes = try h.sim.requests().filter { $0.isWrite && !$0.path.contains("/leases/") }
        #expect(writes.isEmpty, "\(writes.map { "\($0.method) \($0.path)" })")
    }

    @Test("the Lease's strategy and preferredHolder, set by another tool, survive the leader's writes")
    func leaseFieldsOfOthersAreKept() throws {
        let h = try ControllerHarness()
        defer { h.stop() }
        let manifest = """
            {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "batchctl-controller", "namespace": "\(h.namespace)"},
             "spec": {"leaseDurationSeconds": 15, "strategy": "OldestEmulationVersion", "preferredHolder": "someone-else"}}
            """
        let created = try h.sim.kubectl(["create", "--validate=false", "-f", "-"], stdin: manifest)
        #expect(created.status == 0, "\(created.stderr)")
        try h.startController()
        #expect(Wait.until(timeout: .seconds(20)) { h.leaseHolder()?.hasPrefix("controller-0_") == true })
        func lease(_ path: String) -> String? {
            try? h.sim.kubectl(["get", "lease", "batchctl-controller", "-n", h.namespace, "-o", "jsonpath=\(path)"]).stdout
        }
        let taken = lease("{.spec.renewTime}")
        #expect(Wait.until(timeout: .seconds(10)) { lease("{.spec.renewTime}") != taken })   // renewed (every 2 s)
        #expect(lease("{.spec.strategy} {.spec.preferredHolder}") == "OldestEmulationVersion someone-else")
    }

    @Test("two controllers: one leads; SIGTERM hands over at once, SIGKILL within the lease duration")
    func leaderElection() throws {
        let h = try ControllerHarness()
        defer { h.stop() }
        let a = try h.startController()
        #expect(Wait.until(timeout: .seconds(20)) { h.leaseHolder()?.hasPrefix("controller-0_") == true })
        let b = try h.startController()
        #expect(h.waitForPasses(15))                                     // b has tried the Lease meanwhile (every 2 s)
        #expect(h.leaseHolder()?.hasPrefix("controller-0_") == true)
        #expect(h.metric("batchctl_leader", controller: 0) == 1)
        #expect(h.metric("batchctl_leader", controller: 1) == 0)
        // SIGTERM: the leader releases the Lease and the standby takes it within a retry period or two.
        a.stop(grace: .seconds(10))
        #expect(a.exitStatus == 0)
        #expect(Wait.until(timeout: .seconds(8)) { h.leaseHolder()?.hasPrefix("controller-1_") == true })
        // The new leader acts.
        try tasks(h, "batch3", 2)
        try h.claim("batch3", replicas: 1)
        #expect(Wait.until(timeout: .seconds(30)) { h.replicas("celery-batch3") == 1 })
        // SIGKILL: no release; a third controller takes over once the lease expires (15 s) as it sees it.
        let c = try h.startController()
        b.signal(SIGKILL)
        _ = b.waitForExit(timeout: .seconds(5))
        #expect(Wait.until(timeout: .seconds(40)) { h.leaseHolder()?.hasPrefix("controller-2_") == true })
        #expect(c.isRunning)
    }
}
