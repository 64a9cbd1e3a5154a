import BatchTesting
import Foundation
import Testing

/// Issue 24 end to end: Redis behind Sentinel (a master, a replica and three real redis-sentinel processes on
/// loopback), Celery workers and producers configured as Celery's docs say (`sentinel://...;...` with
/// `broker_transport_options = {'master_name': 'mymaster'}`), and `batchctl controller` given the same. A
/// forced `SENTINEL FAILOVER` swaps master and replica under running tasks. (The sentinels name the new master
/// at once but leave the old one a master for about 10 s before turning it into a replica: measured.)
@Suite(.serialized, .enabled(if: CeleryFixture.isAvailable, "needs the venv: make venv"))
struct SentinelFailoverTests {
    /// `observation=N` of the controller's first "Reading Redis" (or `message`) log line naming `port`.
    func observation(_ log: String, _ message: String = "Reading Redis", port: Int) -> Int? {
        for line in log.split(separator: "\n") where line.contains(message) && line.contains("server=127.0.0.1:\(port)") {
            guard let range = line.firstRange(of: "observation=") else { continue }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }
        return nil
    }

    /// Reconcile passes so far, whatever their result.
    func passes(_ h: ControllerHarness) -> Int {
        Int((h.metric(#"batchctl_reconcile_total{result="ok"}"#) ?? 0) + (h.metric(#"batchctl_reconcile_total{result="error"}"#) ?? 0))
    }

    @Test("SENTINEL FAILOVER under running tasks: the controller reads the new master within 3 polls, never lowers replicas, and hears heartbeats again")
    func followsAFailover() throws {
        let cluster = try RedisSentinels()
        defer { cluster.stop() }
        let broker = CeleryFixture(brokerURL: cluster.brokerURL, transportOptions: #"{"master_name": "mymaster"}"#)
        let h = try ControllerHarness(config: "redis: {url: \"\(cluster.brokerURL)\", masterName: mymaster}",
                                      workers: .init(terminationGracePeriodSeconds: 5), broker: broker)
        defer { h.stop() }
        let controller = try h.startController()
        let old = cluster.servers[0]
        try h.claim("batch0", replicas: 2)
        #expect(Wait.until(timeout: .seconds(30)) { h.claimSeen("batch0") })
        // Work for both workers well past the switch: 80 tasks of 2 s, one at a time per worker.
        #expect(try h.celery.produce(#"[{"queue": "batch0", "count": 80, "task": "fixture.sleep", "args": [2]}]"#) == 80)
        #expect(Wait.until(timeout: .seconds(60)) { h.replicas("celery-batch0") == 2 })
        #expect(observation(controller.stderr, port: old.port) != nil, "controller log: \(controller.stderr)")
        // The workers run tasks and the controller hears their heartbeats (through the first master).
        #expect(Wait.until(timeout: .seconds(180), interval: .milliseconds(500)) { (h.busyWorkers("batch0") ?? 0) >= 1 },
                "controller log: \(controller.stderr)")

        let new = try cluster.failover()
        let passesAtSwitch = passes(h)
        #expect(cluster.role(of: new) == "master")

        // 1. The controller reads the new master within 3 polls of every sentinel naming it.
        var readAt: Int?
        #expect(Wait.until(timeout: .seconds(60)) {
            readAt = observation(controller.stderr, port: new.port)
            return readAt != nil
        }, "controller log: \(controller.stderr)")
        if let readAt { #expect(readAt - passesAtSwitch <= 3, "read the new master at observation \(readAt), the switch was at pass \(passesAtSwitch)") }

        // 2. Heartbeats resume: the listener subscribes on the new master, and busy workers are seen there once
        //    every heartbeat from before the switch is stale (two intervals of 2 s).
        let switchedAt = ContinuousClock.now
        #expect(Wait.until(timeout: .seconds(60)) { observation(controller.stderr, "Listening to worker heartbeats", port: new.port) != nil },
                "controller log: \(controller.stderr)")
        #expect(Wait.until(timeout: .seconds(120), interval: .milliseconds(500)) {
            ContinuousClock.now - switchedAt > .seconds(6) && (h.busyWorkers("batch0") ?? 0) >= 1
        }, "controller log: \(controller.stderr)")

        // The sentinels turn the old master into a replica some seconds later (+convert-to-slave), which drops
        // every client still on it (Celery's among them); the controller keeps reading and hearing heartbeats.
        #expect(Wait.until(timeout: .seconds(60), interval: .milliseconds(200)) { cluster.role(of: old) == "slave" })
        let convertedAt = ContinuousClock.now
        #expect(Wait.until(timeout: .seconds(120), interval: .milliseconds(500)) {
            ContinuousClock.now - convertedAt > .seconds(6) && (h.busyWorkers("batch0") ?? 0) >= 1
        }, "controller log: \(controller.stderr)")

        // 3. Replicas never dropped while the data was missing during the switch.
        let writes = try h.scaleWrites("celery-batch0")
        #expect(writes == [2], "scale writes: \(writes)")
        #expect(h.replicas("celery-batch0") == 2)
        #expect(controller.isRunning)
    }
}
