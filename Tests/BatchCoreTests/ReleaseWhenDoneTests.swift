import Testing
@testable import BatchCore

/// `claim --release-when-done`: `decide` releases the claim once it had work, drained, and stayed idle for idleAfter.
@Suite struct ReleaseWhenDoneTests {
    static let claimed = KubeTime(secondsSinceEpoch: 1_800_000_000)
    static let idleAfter = BatchConfig.defaults.idleAfter.milliseconds / 1000

    /// batch1 held by alice since `claimed`; last active `activeAt` seconds after the claim (nil: never); `now` seconds after it.
    static func decision(releaseWhenDone: Bool?, activeAt: Int64?, now: Int64, work: Bool = false) -> Decision {
        let r = Reservation(holder: "alice", claimedAt: claimed, expiresAt: KubeTime(secondsSinceEpoch: claimed.secondsSinceEpoch + 86_400),
                            replicas: 3, releaseWhenDone: releaseWhenDone)
        var status = BatchQueueStatus(phase: .running, depth: 0, inFlight: 0, busyWorkers: 0, replicas: 2, readyReplicas: 2, desiredReplicas: 2)
        status.lastActiveAt = activeAt.map { KubeTime(secondsSinceEpoch: claimed.secondsSinceEpoch + $0) }
        let q = BatchQueue(metadata: ObjectMeta(name: "batch1"), spec: BatchQueueSpec(deployment: "celery-batch1", reservation: r), status: status)
        let input = DecideInput(queue: q, observation: QueueObservation(depth: work ? 5 : 0, inFlight: 0, busyWorkers: 0),
                                deployment: DeploymentState(name: "celery-batch1", replicas: 2, readyReplicas: 2, selector: [:]),
                                now: KubeTime(secondsSinceEpoch: claimed.secondsSinceEpoch + now))
        return decide(input, policy: BatchConfig.defaults)
    }

    @Test(arguments: [
        ("had work, idle for idleAfter: released, zero, Free", true, 60 as Int64?, 60 + idleAfter, false, true, DecisionReason.workDone),
        ("had work, idle for less than idleAfter: held", true, 60, 60 + idleAfter - 1, false, false, .waitingForWork),
        ("never had work since the claim: sleeps, not released", true, nil, 60 + idleAfter, false, false, .idleSleeping),
        ("work again: not released", true, 60, 60 + idleAfter, true, false, .atTarget),
        ("without --release-when-done: sleeps", nil, 60, 60 + idleAfter, false, false, .idleSleeping),
        ("released when done set to false: sleeps", false, 60, 60 + idleAfter, false, false, .idleSleeping),
    ] as [(String, Bool?, Int64?, Int64, Bool, Bool, DecisionReason)])
    func releasesOnlyWhenDone(_ name: String, _ flag: Bool?, _ activeAt: Int64?, _ now: Int64, _ work: Bool, _ released: Bool,
                              _ reason: DecisionReason) {
        let d = Self.decision(releaseWhenDone: flag, activeAt: activeAt, now: now, work: work)
        #expect(d.clearReservation == released, "\(name)")
        #expect(d.reason == reason, "\(name)")
        if released {
            #expect(d.desiredReplicas == 0, "\(name)")
            #expect(d.phase == .free, "\(name)")
            #expect(d.reminders.isEmpty, "\(name)")   // no "sleeping" reminder for a claim that is gone
        }
    }

    @Test("scale, extend and an update without the flag keep release-when-done; --no-release-when-done turns it off")
    func claimFieldIsKept() throws {
        let policy = ReservationPolicy(policy: .defaults)
        let now = Self.claimed
        let q = BatchQueue(metadata: ObjectMeta(name: "batch1"), spec: BatchQueueSpec(deployment: "celery-batch1"))
        guard case let .claimed(r) = try policy.claim(q, by: "alice", request: .init(releaseWhenDone: true), now: now) else {
            Issue.record("not claimed")
            return
        }
        #expect(r.releaseWhenDone == true)
        var held = q
        held.spec.reservation = r
        #expect(try policy.scale(held, by: "alice", replicas: 2, approvedBand: nil, now: now).releaseWhenDone == true)
        #expect(try policy.extend(held, by: "alice", duration: .seconds(3600), now: now).releaseWhenDone == true)
        guard case let .updated(same) = try policy.claim(held, by: "alice", request: .init(replicas: 4), now: now),
              case let .updated(off) = try policy.claim(held, by: "alice", request: .init(releaseWhenDone: false), now: now) else {
            Issue.record("not updated")
            return
        }
        #expect(same.releaseWhenDone == true)
        #expect(off.releaseWhenDone == nil)
    }
}
