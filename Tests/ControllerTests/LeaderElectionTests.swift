import BatchCore
import Controller
import Synchronization
import Testing

/// A Lease kept in memory with resourceVersion checks, like the API server (which never expires it).
final class FakeLeaseStore: LeaseStore {
    let state = Mutex<(lease: LeaseRecord?, version: Int, failing: Bool)>((nil, 0, false))
    /// Updates hang (until cancelled), as a write stuck in a slow API server.
    let updatesHang = Atomic<Bool>(false)
    func get() async throws -> LeaseRecord? {
        try state.withLock {
            if $0.failing { throw FakeError(description: "connection refused") }
            return $0.lease
        }
    }
    func create(_ record: LeaseRecord) async throws -> LeaseRecord {
        try state.withLock {
            if $0.failing { throw FakeError(description: "connection refused") }
            guard $0.lease == nil else { throw LeaseStoreError.conflict }
            $0.version += 1
            var stored = record
            stored.resourceVersion = "\($0.version)"
            $0.lease = stored
            return stored
        }
    }
    func update(_ record: LeaseRecord) async throws -> LeaseRecord {
        if updatesHang.load(ordering: .relaxed) { try await Task.sleep(for: .seconds(3600)) }   // a hung API call, until cancelled
        return try state.withLock {
            if $0.failing { throw FakeError(description: "connection refused") }
            guard let current = $0.lease, current.resourceVersion == record.resourceVersion else { throw LeaseStoreError.conflict }
            $0.version += 1
            var stored = record
            stored.resourceVersion = "\($0.version)"
            $0.lease = stored
            return stored
        }
    }
    var holder: String? { state.withLock { $0.lease?.holderIdentity } }
    var transitions: Int? { state.withLock { $0.lease?.leaseTransitions } }
    func fail(_ on: Bool) { state.withLock { $0.failing = on } }
}

/// Wall and local clocks moved together by the test.
final class ElectionClock: Sendable {
    let base = ContinuousClock.now
    let offset = Mutex<Duration>(.zero)
    func advance(_ d: Duration) { offset.withLock { $0 += d } }
    var wall: KubeTime { KubeTime(secondsSinceEpoch: 1_800_000_000 + offset.withLock { $0 }.components.seconds) }
    var local: ContinuousClock.Instant { base.advanced(by: offset.withLock { $0 }) }
}

@Suite struct LeaderElectionTests {
    let store = FakeLeaseStore()
    let clock = ElectionClock()

    func elector(_ id: String) -> LeaderElector {
        let c = clock
        return LeaderElector(identity: id, store: store, now: { c.wall }, monotonic: { c.local })
    }

    @Test func theFirstCandidateCreatesTheLeaseAndLeads() async {
        let a = elector("a")
        #expect(await a.tryAcquireOrRenew())
        #expect(a.isLeader)
        #expect(store.holder == "a")
    }

    @Test func aSecondCandidateWaitsWhileTheLeaderRenews() async {
        let a = elector("a"), b = elector("b")
        await a.tryAcquireOrRenew()
        for _ in 0..<20 {
            clock.advance(.seconds(2))
            #expect(await a.tryAcquireOrRenew())
            #expect(await !b.tryAcquireOrRenew())
        }
        #expect(store.holder == "a")
    }

    @Test func aDeadLeaderIsReplacedAfterTheLeaseDurationAsSeenLocally() async {
        let a = elector("a"), b = elector("b")
        await a.tryAcquireOrRenew()
        #expect(await !b.tryAcquireOrRenew())        // b observes the record now
        clock.advance(.seconds(14))
        #expect(await !b.tryAcquireOrRenew())
        clock.advance(.seconds(2))                   // 16 s after b first saw this record unchanged
        #expect(await b.tryAcquireOrRenew())
        #expect(store.holder == "b")
        #expect(store.transitions == 1)
    }

    @Test func releasingHandsOverAtOnce() async {
        let a = elector("a"), b = elector("b")
        await a.tryAcquireOrRenew()
        #expect(await !b.tryAcquireOrRenew())
        await a.release()
        #expect(!a.isLeader)
        #expect(store.holder == "")
        #expect(await b.tryAcquireOrRenew())
    }

    @Test func twoCandidatesRacingForAnExpiredLeaseGiveOneLeader() async {
        let a = elector("a"), b = elector("b"), c = elector("c")
        await a.tryAcquireOrRenew()
        _ = await (b.tryAcquireOrRenew(), c.tryAcquireOrRenew())
        clock.advance(.seconds(16))
        async let rb = b.tryAcquireOrRenew()
        async let rc = c.tryAcquireOrRenew()
        let results = await [rb, rc]
        #expect(results.filter { $0 }.count == 1)
        #expect(["b", "c"].contains(store.holder ?? ""))
    }

    @Test func aLeaderThatCannotRenewStepsDownAfterTheRenewDeadline() async {
        let a = elector("a")
        await a.tryAcquireOrRenew()
        store.fail(true)
        clock.advance(.seconds(8))
        #expect(await a.tryAcquireOrRenew())         // still within the 10 s renew deadline
        clock.advance(.seconds(3))
        #expect(await !a.tryAcquireOrRenew())
        #expect(!a.isLeader)
    }

    @Test("fencing: leadership ends renewDeadline after the last renewal was sent, even while a renewal hangs")
    func leadershipLapsesWhileARenewalHangs() async {
        let a = elector("a")
        await a.tryAcquireOrRenew()
        store.updatesHang.store(true, ordering: .relaxed)
        clock.advance(.seconds(9))
        #expect(a.isLeader)
        clock.advance(.seconds(1))                   // 10 s: no write may follow, whatever the renewal does
        #expect(!a.isLeader)
        // A standby could take over only 15 s after it saw the last renewal: 5 s later than this.
    }

    @Test("fencing: a Lease call that hangs is abandoned at the deadline and the replica stops leading")
    func aHangingRenewalIsAbandoned() async {
        let timings = LeaderElector.Timings(leaseDuration: .seconds(2), renewDeadline: .milliseconds(800), retryPeriod: .milliseconds(300))
        let a = LeaderElector(identity: "a", store: store, timings: timings, now: { .now })
        #expect(await a.tryAcquireOrRenew())
        store.updatesHang.store(true, ordering: .relaxed)
        #expect(await !a.tryAcquireOrRenew())        // returns: the hanging update was cancelled at its deadline
        #expect(!a.isLeader)
    }

    @Test(arguments: [
        (LeaderElector.Timings(), nil),
        (LeaderElector.Timings(leaseDuration: .seconds(10), renewDeadline: .seconds(10)), "leaseDuration must be longer than renewDeadline"),
        (LeaderElector.Timings(renewDeadline: .seconds(2), retryPeriod: .seconds(2)), "renewDeadline must be more than 1.2 × retryPeriod"),
        (LeaderElector.Timings(retryPeriod: .zero), "retryPeriod must be positive"),
    ] as [(LeaderElector.Timings, String?)])
    func timingsAreCheckedAsClientGoDoes(_ t: LeaderElector.Timings, _ problem: String?) {
        #expect(t.problem?.message() == problem)
    }
}
