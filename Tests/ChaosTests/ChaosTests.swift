import BatchTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Fault injection (issue #12): each scenario breaks one thing while the controller works, then checks the
/// four invariants of `ChaosRig` (convergence, no reservation lost, band safety, nothing crashed).
/// `make chaos` runs the full form (`BATCHCTL_CHAOS=full`); `make test` runs the short form. No assertion is
/// about time: waits are bounded and generous; durations are only printed.
@Suite(.serialized, .enabled(if: CeleryFixture.isAvailable, "needs the venv: make venv"))
struct ChaosTests {
    /// batch0 held by alice for 3, batch1 by bob for 10 (a ramp of five steps), batch2 free with tasks
    /// (Orphaned), batch3 free. Scenarios drain and refill batch1, so it sleeps and ramps up again.
    static let claims: [String: (holder: String, replicas: Int)] = ["batch0": ("alice", 3), "batch1": ("bob", 10)]
    static let ceilings = ["batch0": 3, "batch1": 10]

    @Test("Redis down: replicas held (no write), a condition says so; Redis back: converges")
    func redisDown() throws {
        let rig = try ChaosRig("redis-down", number: 1, ceilings: Self.ceilings)
        defer { rig.h.stop() }
        try rig.startController()
        try rig.setUpWorkload(claims: Self.claims)
        rig.expectConverged()
        let before = try rig.h.scaleWrites("celery-batch0").count + rig.h.scaleWrites("celery-batch1").count

        rig.h.redis.stop()
        #expect(Wait.until(timeout: .seconds(30)) { rig.h.condition("batch1", "RedisReachable")?.status == "False" })
        // The outage's length is the scenario (the controllers must hold through it), not a wait for a result.
        Thread.sleep(forTimeInterval: Double(rig.settings.redisOutage.components.seconds))
        // Never down on missing data: nothing was written to /scale while Redis was away.
        let during = try rig.h.scaleWrites("celery-batch0").count + rig.h.scaleWrites("celery-batch1").count
        let writes = try rig.h.scaleWrites("celery-batch0") + rig.h.scaleWrites("celery-batch1")
        #expect(during == before, "scale writes while Redis was down (batch0 then batch1): \(writes)")
        #expect(rig.h.replicas("celery-batch0") == 3 && rig.h.replicas("celery-batch1") == 10)

        try rig.h.redis.start()                       // it comes back empty (no persistence): the producers send again
        try rig.refillTasks()
        try rig.finish()
    }

    @Test("KubeSim faults at 20 % (409, 429 + Retry-After, 500, 200 ms, dropped watches), two controllers: converges once they stop")
    func kubeFaults() throws {
        let rig = try ChaosRig("kube-faults", number: 2, ceilings: Self.ceilings)
        defer { rig.h.stop() }
        try rig.startController()
        try rig.startController()
        try rig.setUpWorkload(claims: Self.claims)
        rig.expectConverged()

        try rig.h.sim.setFaults(FaultMix.spec)
        let window = rig.settings.faultWindow
        let end = ContinuousClock.now + window
        // Give the controllers decisions to make under faults: batch1 drains (sleeps after idleAfter) and refills (wakes, ramps).
        // The pauses are the scenario's rhythm within the fault window, not waits for a result.
        var round = 0
        while ContinuousClock.now < end, round < 100 {
            round += 1
            try rig.drain("batch1")
            Thread.sleep(forTimeInterval: min(5, max(0, Double((end - ContinuousClock.now).components.seconds))))
            try rig.refillTasks(["batch1"])
            Thread.sleep(forTimeInterval: min(5, max(0, Double((end - ContinuousClock.now).components.seconds))))
        }
        try rig.h.sim.setFaults("")
        let injected = try rig.h.sim.requests().filter { [409, 429, 500].contains($0.status) }.count
        print("[kube-faults] \(injected) requests answered 409/429/500 in \(window)")
        #expect(injected > 0, "no fault was injected")
        try rig.refillTasks()
        rig.expectConverged()
        #expect(Wait.until(timeout: .seconds(30)) { rig.leaderIndex().map { [0, 1].contains($0) } == true })
        try rig.finish()
    }

    @Test("kill -9 of the controller at random moments, restarted each time: the last one takes the Lease and converges")
    func killNine() throws {
        let rig = try ChaosRig("kill-9", number: 3, ceilings: Self.ceilings)
        defer { rig.h.stop() }
        try rig.startController()
        try rig.setUpWorkload(claims: Self.claims)
        rig.expectConverged()
        for i in 0..<rig.settings.kills {
            let current = rig.h.controllers.count - 1
            // Half the kills land anywhere in the process's first 3 s (start-up, cache sync, standby); the
            // other half while it leads (mid-pass, mid-write).
            if Bool.random(using: &rig.rng) {
                let leads = Wait.until(timeout: .seconds(30), interval: .milliseconds(100)) { rig.leaderIndex() == current }
                #expect(leads, "controller-\(current) did not take the Lease; \(rig.settings)")
            }
            rig.sleepRandomly(0...3)
            // Work changes under it: batch1 drains (sleeps 3 s later) or fills (wakes and ramps).
            if Bool.random(using: &rig.rng) { try rig.drain("batch1") } else { try rig.refillTasks(["batch1"]) }
            rig.kill9(current)
            try rig.startController(waitUntilReady: false)
            if i % 10 == 9 { print("[kill-9] \(i + 1) kills") }
        }
        let last = rig.h.controllers.count - 1
        try rig.refillTasks()
        #expect(Wait.until(timeout: .seconds(60), interval: .milliseconds(200)) { rig.leaderIndex() == last },
                "the last controller did not take the Lease: holder \(rig.h.leaseHolder() ?? "none"); \(rig.settings)")
        try rig.finish()
    }

    @Test("leader failover: kill -9 of the leader, the standby takes the Lease and converges")
    func leaderFailover() throws {
        let rig = try ChaosRig("failover", number: 4, ceilings: Self.ceilings)
        defer { rig.h.stop() }
        try rig.startController()
        #expect(Wait.until(timeout: .seconds(30)) { rig.leaderIndex() == 0 })
        try rig.startController()
        try rig.setUpWorkload(claims: Self.claims)
        rig.expectConverged()
        for _ in 0..<rig.settings.failovers {
            guard let leader = rig.leaderIndex() else {
                Issue.record("no leader before the failover; \(rig.settings)")
                break
            }
            let standby = rig.h.controllers.indices.last { $0 != leader && rig.h.controllers[$0].isRunning }
            rig.sleepRandomly(0...2)
            try rig.drain("batch1")                       // a decision for the new leader to make
            let killedAt = ContinuousClock.now
            rig.kill9(leader)
            let tookOver = Wait.until(timeout: .seconds(60), interval: .milliseconds(100)) { rig.leaderIndex() == standby }
            #expect(tookOver, "the standby controller-\(standby ?? -1) did not take the Lease: holder \(rig.h.leaseHolder() ?? "none")")
            print("[failover] controller-\(standby ?? -1) took over \(ContinuousClock.now - killedAt) after the kill (lease 4 s)")
            try rig.startController()                     // the next standby
            try rig.refillTasks()
            rig.expectConverged()
        }
        try rig.finish()
    }

    /// Under the 20 % fault mix, `racers` users claim batch1 at once while the controller runs.
    ///
    /// The rule: exactly one claimer exits 0 and the reservation is its own; every other exits 3 naming it,
    /// or exits 1 with a message naming the API server's error (an injected 500 on its write, or on its
    /// identity check, after the client's retries; an injected fault writes nothing). Only the winner's
    /// write of batch1 succeeded.
    @Test("N-way claim race under KubeSim faults: one winner, the losers told who won, the reservation kept")
    func claimRaceUnderFaults() throws {
        let n = ChaosSettings.current.racers
        let rig = try ChaosRig("claim-race", number: 5, extraUsers: n, ceilings: ["batch0": 3, "batch1": 4])
        defer { rig.h.stop() }
        try rig.startController()
        try rig.setUpWorkload(claims: ["batch0": ("alice", 3)])
        try rig.refillTasks(["batch1"])
        rig.expectConverged()

        try rig.h.sim.setFaults(FaultMix.spec)
        let users = (1...n).map(ClaimRace.user)
        let race = try ClaimRace.run(queue: "batch1", users: users, kubeconfig: rig.h.sim.kubeconfigPath, extraArguments: ["--replicas", "4"],
                                     environment: ["BATCHCTL_CONFIG": "", "HOME": rig.h.directory.path, "NO_COLOR": "", "COLUMNS": "200"])
        try rig.h.sim.setFaults("")

        let winners = race.winners
        try #require(winners.count == 1, "winners \(winners); statuses \(race.statuses); stderr \(race.stderr); \(rig.settings)")
        let winner = winners[0]
        var transient = 0
        for (i, u) in users.enumerated() where u != winner {
            switch race.statuses[i] {
            case 3:
                #expect(race.stderr[i].hasPrefix("error: batch1 is held by \(winner) until "), "\(u): \(race.stderr[i])")
            case 1:
                transient += 1
                #expect(race.stderr[i].hasPrefix("error: ") && (race.stderr[i].contains("500") || race.stderr[i].contains("nternal error")
                                                                 || race.stderr[i].contains("429")),
                        "\(u) exited 1 without naming the API server's error: \(race.stderr[i])")
            default:
                Issue.record("\(u) exited \(race.statuses[i].map(String.init) ?? "not at all"): \(race.stderr[i]); \(rig.settings)")
            }
        }
        print("[claim-race] \(n) claimers: winner \(winner), \(n - 1 - transient) told who won, \(transient) failed on an injected error")
        let claimerRequests = try rig.h.sim.requests().filter { $0.user.hasPrefix("user") }
        print("[claim-race] the claimers made \(claimerRequests.count) requests; \(claimerRequests.filter { [409, 429, 500].contains($0.status) }.count) answered 409/429/500")
        let writes = claimerRequests.filter { $0.isWrite && $0.path.hasSuffix("/batchqueues/batch1") }
        #expect(writes.filter { $0.status < 300 }.map(\.user) == [winner], "\(writes.map { "\($0.user) \($0.status)" })")
        rig.claims["batch1"] = (winner, 4)
        try rig.finish()
    }
}
