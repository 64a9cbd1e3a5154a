import Testing
@testable import BatchCore

/// Builds decide inputs compactly: times are seconds relative to `now`.
struct Scenario: CustomStringConvertible {
    static let now = KubeTime(secondsSinceEpoch: 1_800_000_000)

    var paused = false
    var deployment: Int? = 0            // spec.replicas; nil = Deployment missing
    var ready: Int? = nil
    var observation: QueueObservation? = QueueObservation(depth: 0, inFlight: 0, busyWorkers: 0)
    var reservation: (replicas: Int, band: String?, claimedAgo: Int64, expiresIn: Int64)? = nil
    var maxReplicas: Int? = nil
    var lastActiveAgo: Int64? = nil
    var lastScaleUpAgo: Int64? = nil
    var drainingSinceAgo: Int64? = nil
    var lastDesired: Int? = nil
    var lastReplicas: Int? = nil
    var reminders: ReminderLog? = nil
    var budget = 40
    var now = Scenario.now

    static func ago(_ s: Int64, from now: KubeTime = Scenario.now) -> KubeTime { KubeTime(secondsSinceEpoch: now.secondsSinceEpoch - s) }

    var queue: BatchQueue {
        let r = reservation.map {
            Reservation(holder: "alice@example.org", reason: "rehash passwords", claimedAt: Self.ago($0.claimedAgo, from: now),
                        expiresAt: Self.ago(-$0.expiresIn, from: now), replicas: $0.replicas, approvedBand: $0.band)
        }
        let status = BatchQueueStatus(replicas: lastReplicas, desiredReplicas: lastDesired,
                                      lastActiveAt: lastActiveAgo.map { Self.ago($0, from: now) },
                                      lastScaleUpAt: lastScaleUpAgo.map { Self.ago($0, from: now) },
                                      drainingSince: drainingSinceAgo.map { Self.ago($0, from: now) }, reminders: reminders)
        return BatchQueue(metadata: ObjectMeta(name: "batch1", namespace: "court-listener", generation: 3),
                          spec: BatchQueueSpec(deployment: "celery-batch1", maxReplicas: maxReplicas, paused: paused, reservation: r),
                          status: status)
    }

    var input: DecideInput {
        var input = DecideInput(queue: queue, observation: observation, deployment: deployment.map {
            DeploymentState(name: "celery-batch1", replicas: $0, readyReplicas: ready ?? $0, selector: ["app": "celery-batch1"])
        }, now: now)
        input.budgetRemaining = budget
        return input
    }

    func decide(_ policy: BatchConfig = DecideTests.policy) -> Decision { BatchCore.decide(input, policy: policy) }

    var description: String { "\(input.queue.spec) obs=\(String(describing: observation)) replicas=\(String(describing: deployment))" }
}

func work(_ depth: Int, inFlight: Int = 0, busy: Int = 0) -> QueueObservation {
    QueueObservation(depth: depth, inFlight: inFlight, busyWorkers: busy)
}

@Suite struct DecideTests {
    /// The defaults: bands small 1-5, medium 6-10, big 11-20 (approval); ramp 2 per 30 s; idle 15 min;
    /// budget 40; grace 1 h; reminders 24 h and 1 h before expiry.
    static let policy = BatchConfig.defaults

    static var held: (replicas: Int, band: String?, claimedAgo: Int64, expiresIn: Int64) { (4, nil, 600, 86_400 * 2) }

    @Test(arguments: [
        // 1. paused: never touch replicas, even with work
        ("paused with work", Scenario(paused: true, deployment: 3, observation: work(500), reservation: held), nil, DecisionReason.paused, BatchQueuePhase.paused),
        // the Deployment is missing
        ("deployment missing", Scenario(deployment: nil, observation: work(5), reservation: held), nil, .deploymentMissing, .unknown),
        // 2. unknown observation: hold, never down on missing data
        ("unknown while reserved", Scenario(deployment: 4, observation: nil, reservation: held), 4, .observationUnknown, .unknown),
        ("unknown while free", Scenario(deployment: 3, observation: nil), 3, .observationUnknown, .unknown),
        // 3. free, released, expired
        ("free and empty", Scenario(deployment: 0), 0, .free, .free),
        ("free with replicas left over", Scenario(deployment: 2), 0, .free, .free),
        ("orphaned tasks", Scenario(deployment: 0, observation: work(10)), 0, .orphanedTasks, .orphaned),
        ("released while a worker is busy", Scenario(deployment: 3, observation: work(0, busy: 1)), 1, .drainingBusyWorkers, .free),
        ("released, busy past the grace", Scenario(deployment: 1, observation: work(0, busy: 1), drainingSinceAgo: 3_601), 0, .drainGraceExceeded, .free),
        ("expired", Scenario(deployment: 4, observation: work(0), reservation: (4, nil, 86_400, -1)), 0, .expired, .free),
        ("expired with tasks left", Scenario(deployment: 4, observation: work(7), reservation: (4, nil, 86_400, 0)), 0, .expired, .orphaned),
        // 4. reserved with work: ramp up by 2 per 30 s; waking from zero steps at once
        ("work, from zero", Scenario(deployment: 0, observation: work(100), reservation: held), 2, .rampingUp, .running),
        ("work, from zero right after a step", Scenario(deployment: 0, observation: work(100), reservation: held, lastScaleUpAgo: 1), 2, .rampingUp, .running),
        ("work, ramp interval not passed", Scenario(deployment: 2, observation: work(100), reservation: held, lastScaleUpAgo: 10), 2, .rampWaiting, .running),
        ("work, ramp interval passed", Scenario(deployment: 2, observation: work(100), reservation: held, lastScaleUpAgo: 30), 4, .atTarget, .running),
        ("work, at target", Scenario(deployment: 4, observation: work(100), reservation: held, lastScaleUpAgo: 30), 4, .atTarget, .running),
        ("in-flight only counts as work", Scenario(deployment: 0, observation: work(0, inFlight: 3), reservation: held), 2, .rampingUp, .running),
        ("busy workers only count as work", Scenario(deployment: 4, observation: work(0, busy: 1), reservation: held), 4, .atTarget, .running),
        // ceilings: reservation, maxReplicas, band approval
        ("ceiling lowered by the holder", Scenario(deployment: 4, observation: work(100), reservation: (1, nil, 600, 86_400)), 1, .scalingDown, .running),
        ("ceiling lowered, busy workers kept", Scenario(deployment: 4, observation: work(100, busy: 3), reservation: (1, nil, 600, 86_400)), 3, .busyWorkersFloor, .running),
        ("maxReplicas caps the reservation", Scenario(deployment: 2, observation: work(100), reservation: (8, nil, 600, 86_400), maxReplicas: 3, lastScaleUpAgo: 60), 3, .atTarget, .running),
        ("big without approval stops at medium", Scenario(deployment: 10, observation: work(100), reservation: (15, nil, 600, 86_400)), 10, .atTarget, .running),
        ("big with approval", Scenario(deployment: 14, observation: work(100), reservation: (15, "big", 600, 86_400), lastScaleUpAgo: 60), 15, .atTarget, .running),
        ("above 20 needs the admin's maxReplicas", Scenario(deployment: 20, observation: work(100), reservation: (30, "big", 600, 86_400)), 20, .atTarget, .running),
        ("above 20 with maxReplicas 30", Scenario(deployment: 29, observation: work(100), reservation: (30, "big", 600, 86_400), maxReplicas: 30, lastScaleUpAgo: 60), 30, .atTarget, .running),
        // 5. budget
        ("budget limits the target", Scenario(deployment: 2, observation: work(100), reservation: held, lastScaleUpAgo: 60, budget: 3), 3, .budgetLimited, .running),
        ("budget exhausted", Scenario(deployment: 0, observation: work(100), reservation: held, budget: 0), 0, .budgetLimited, .reserved),
        ("budget never stops busy workers", Scenario(deployment: 4, observation: work(100, busy: 2), reservation: held, budget: 0), 2, .busyWorkersFloor, .running),
        // idle
        ("claimed, no work yet", Scenario(deployment: 0, observation: work(0), reservation: held), 0, .waitingForWork, .reserved),
        ("idle, not yet idleAfter", Scenario(deployment: 4, observation: work(0), reservation: (4, nil, 86_400, 86_400), lastActiveAgo: 600), 4, .waitingForWork, .running),
        ("idle for idleAfter", Scenario(deployment: 4, observation: work(0), reservation: (4, nil, 86_400, 86_400), lastActiveAgo: 900), 0, .idleSleeping, .sleeping),
        ("idle since the claim", Scenario(deployment: 0, observation: work(0), reservation: (4, nil, 901, 86_400)), 0, .idleSleeping, .sleeping),
        ("a previous claim's activity does not count", Scenario(deployment: 0, observation: work(0), reservation: (4, nil, 60, 86_400), lastActiveAgo: 7_200), 0, .waitingForWork, .reserved),
        ("sleeping queue wakes on work", Scenario(deployment: 0, observation: work(1), reservation: (4, nil, 86_400, 86_400), lastActiveAgo: 7_200, lastScaleUpAgo: 5), 2, .rampingUp, .running),
        ("idle above a lowered ceiling", Scenario(deployment: 4, observation: work(0), reservation: (2, nil, 600, 86_400), lastActiveAgo: 60), 2, .scalingDown, .running),
    ])
    func rules(_ name: String, _ s: Scenario, _ replicas: Int?, _ reason: DecisionReason, _ phase: BatchQueuePhase) {
        let d = s.decide()
        #expect(d.desiredReplicas == replicas, "\(name)")
        #expect(d.reason == reason, "\(name)")
        #expect(d.phase == phase, "\(name)")
    }

    /// The API server keeps `metav1.Time` to whole seconds, so `decide` stamps `lastActiveAt` rounded up: a
    /// queue whose work ended at a fraction of a second never sleeps before `idleAfter` (15 min) has passed
    /// since then. Each row: the fraction of a second at which a pass saw the work end, how long after that
    /// pass the next one runs (microseconds), and what the next one decides.
    @Test(arguments: [
        ("work ended at .5 s, next pass 0.5 s before idleAfter", 500_000 as Int64, 899_500_000 as Int64, DecisionReason.waitingForWork),
        ("work ended at .999999 s, next pass 1 µs before idleAfter", 999_999, 899_999_999, .waitingForWork),
        ("work ended at .5 s, next pass 0.5 s after idleAfter", 500_000, 900_500_000, .idleSleeping),
        ("work ended on a whole second, next pass at idleAfter", 0, 900_000_000, .idleSleeping),
        ("work ended on a whole second, next pass 1 µs before idleAfter", 0, 899_999_999, .waitingForWork),
    ])
    func idleClockNeverStartsEarlyWhenTheStampHadAFraction(_ name: String, _ fraction: Int64, _ after: Int64, _ reason: DecisionReason) throws {
        let ended = KubeTime(microsecondsSinceEpoch: Scenario.now.microsecondsSinceEpoch + fraction)
        var s = Scenario(deployment: 4, observation: work(0), reservation: (4, nil, 86_400, 86_400), lastActiveAgo: 60)
        s.now = ended
        var input = s.input
        input.queue.status?.depth = 3   // the last pass saw work
        let first = BatchCore.decide(input, policy: Self.policy)
        let stamped = try #require(first.status.lastActiveAt, "\(name)")
        #expect(stamped >= ended && stamped.microsecondsSinceEpoch % 1_000_000 == 0, "\(name): \(stamped)")
        // What the API server stores and the next pass reads back: RFC 3339 with whole seconds.
        input.queue.status = first.status
        input.queue.status?.lastActiveAt = KubeTime(rfc3339: stamped.rfc3339)
        input.now = KubeTime(microsecondsSinceEpoch: ended.microsecondsSinceEpoch + after)
        #expect(BatchCore.decide(input, policy: Self.policy).reason == reason, "\(name)")
    }

    @Test func aRampStepStampedAtAFractionIsNotFollowedEarly() {
        let stepped = KubeTime(microsecondsSinceEpoch: Scenario.now.microsecondsSinceEpoch + 500_000)
        var s = Scenario(deployment: 2, observation: work(100), reservation: Self.held, lastScaleUpAgo: 60)
        s.now = stepped
        var input = s.input
        let first = BatchCore.decide(input, policy: Self.policy)
        #expect(first.desiredReplicas == 4)
        input.queue.status = first.status
        input.queue.status?.lastScaleUpAt = first.status.lastScaleUpAt.flatMap { KubeTime(rfc3339: $0.rfc3339) }
        input.deployment?.replicas = 4
        input.queue.spec.reservation?.replicas = 8
        input.now = KubeTime(microsecondsSinceEpoch: stepped.microsecondsSinceEpoch + 29_700_000)   // 29.7 s later: not yet 30 s
        #expect(BatchCore.decide(input, policy: Self.policy).reason == .rampWaiting)
    }

    @Test func tasksPerReplicaSizesTheTarget() {
        var p = Self.policy
        p.tasksPerReplica = 10
        p.rampUp.every = .zero
        let cases: [(Int, Int, Int)] = [(25, 0, 3), (1, 0, 1), (0, 2, 1), (400, 0, 4), (10, 10, 2)]
        for (depth, inFlight, expected) in cases {
            let d = Scenario(deployment: 0, observation: work(depth, inFlight: inFlight), reservation: Self.held).decide(p)
            #expect(d.desiredReplicas == expected, "depth \(depth) inFlight \(inFlight)")
        }
    }

    @Test func rampWithoutIntervalGoesStraightToTheTarget() {
        var p = Self.policy
        p.rampUp.every = .zero
        #expect(Scenario(deployment: 0, observation: work(9), reservation: (9, nil, 60, 86_400)).decide(p).desiredReplicas == 9)
    }

    @Test func expiryClearsTheReservationAndRemindsOnce() {
        let s = Scenario(deployment: 4, observation: work(0), reservation: (4, nil, 86_400, -60))
        let d = s.decide()
        #expect(d.clearReservation)
        #expect(d.reminders.map(\.kind) == [.expired])
        #expect(d.reminders[0].message == "alice@example.org's reservation of batch1 expired at 2027-01-15 07:59 UTC (1 min ago); it was released and its workers scaled to zero. Run 'batchctl claim batch1' to claim it again.")
        var again = s
        again.reminders = d.status.reminders
        #expect(again.decide().reminders.isEmpty)
    }

    @Test func expiryIsClearedEvenWhenRedisIsUnreachableButReplicasAreHeld() {
        let d = Scenario(deployment: 4, observation: nil, reservation: (4, nil, 86_400, -60)).decide()
        #expect(d.clearReservation)
        #expect(d.desiredReplicas == 4)
    }

    @Test func orphanedTasksWarnAtMostOncePerInterval() {
        var s = Scenario(deployment: 0, observation: work(42))
        let first = s.decide()
        #expect(first.reminders.map(\.kind) == [.orphaned])
        #expect(first.reminders[0].isWarning)
        #expect(first.reminders[0].message.hasPrefix("42 task(s) are waiting on batch1, which nobody has claimed"))
        s.reminders = first.status.reminders
        s.now = KubeTime(secondsSinceEpoch: Scenario.now.secondsSinceEpoch + 1_800)
        #expect(s.decide().reminders.isEmpty)
        s.now = KubeTime(secondsSinceEpoch: Scenario.now.secondsSinceEpoch + 3_600)
        #expect(s.decide().reminders.map(\.kind) == [.orphaned])
    }

    @Test func orphanedMessageIncludesRedisMemory() {
        var input = Scenario(deployment: 0, observation: work(3)).input
        input.redisMemory = RedisMemoryReading(used: 800 * 1_048_576, max: 1_000 * 1_048_576)
        let d = BatchCore.decide(input, policy: Self.policy)
        #expect(d.reminders[0].message.contains("Redis uses 800 MiB of 1000 MiB (80%)."))
    }

    @Test func expiringRemindersFireOncePerThreshold() {
        var s = Scenario(deployment: 0, observation: work(0), reservation: (2, nil, 2 * 86_400, 23 * 3_600), lastActiveAgo: 60)
        let first = s.decide()
        #expect(first.reminders.map(\.kind) == [.expiringSoon])
        #expect(first.reminders[0].message == "batch1 is held by alice@example.org until 2027-01-16 07:00 UTC (in 23 h). Run 'batchctl extend batch1 --for 1d' to keep it, or 'batchctl release batch1' if you are done.")
        s.reminders = first.status.reminders
        #expect(s.decide().reminders.isEmpty)
        // 59 minutes before expiry: the 1 h reminder.
        s.now = KubeTime(secondsSinceEpoch: Scenario.now.secondsSinceEpoch + 22 * 3_600 + 60)
        s.reservation = (2, nil, 2 * 86_400 + 22 * 3_600 + 60, 3_540)
        let second = s.decide()
        #expect(second.reminders.map(\.kind) == [.expiringSoon])
        s.reminders = second.status.reminders
        #expect(s.decide().reminders.isEmpty)
    }

    @Test func aShortClaimGetsNoReminderForThresholdsLongerThanItself() {
        // Claimed 60 s ago for 31 min in all: neither 24 h nor 1 h before expiry came after the claim.
        let d = Scenario(deployment: 0, observation: work(0), reservation: (2, nil, 60, 1_800)).decide()
        #expect(d.reminders.isEmpty)
        #expect(d.status.reminders?.expiringSent == [86_400, 3_600])
        // A 2-hour claim with 59 min left gets the 1 h reminder, once, and not the 24 h one.
        let two = Scenario(deployment: 0, observation: work(0), reservation: (2, nil, 3_660, 3_540), lastActiveAgo: 10).decide()
        #expect(two.reminders.map(\.kind) == [.expiringSoon])
        #expect(two.reminders[0].message.contains("(in 59 min)"))
    }

    @Test func aDefaultOneDayClaimIsNotRemindedAtOnce() {
        let d = Scenario(deployment: 0, observation: work(0), reservation: (2, nil, 0, 86_400)).decide()
        #expect(d.reminders.isEmpty)
    }

    @Test func extendingAClaimStartsFreshExpiringReminders() {
        var s = Scenario(deployment: 0, observation: work(0), reservation: (2, nil, 60, 1_800))
        s.reminders = s.decide().status.reminders
        s.reservation = (2, nil, 60, 1_800 + 86_400)   // extended by a day: 24.5 h left, nothing due
        let d = s.decide()
        #expect(d.reminders.isEmpty)
        #expect(d.status.reminders?.expiringSent == nil)
    }

    @Test func sleepingRemindsOnceThenDailyWhileHeld() {
        var s = Scenario(deployment: 4, observation: work(0), reservation: (4, nil, 7 * 86_400, 5 * 86_400), lastActiveAgo: 1_000)
        let slept = s.decide()
        #expect(slept.reminders.map(\.kind) == [.sleeping])
        s.reminders = slept.status.reminders
        s.deployment = 0
        s.now = KubeTime(secondsSinceEpoch: Scenario.now.secondsSinceEpoch + 3_600)
        #expect(s.decide().reminders.isEmpty)
        s.now = KubeTime(secondsSinceEpoch: Scenario.now.secondsSinceEpoch + 86_400)
        let daily = s.decide()
        #expect(daily.reminders.map(\.kind) == [.idle])
        #expect(daily.reminders[0].nextCommand == "batchctl release batch1")
    }

    @Test func someoneElseScalingIsRestoredWithOneEvent() {
        let external = Scenario(deployment: 7, observation: work(100), reservation: Self.held, lastScaleUpAgo: 300, lastDesired: 4, lastReplicas: 4).decide()
        #expect(external.desiredReplicas == 4)
        #expect(external.events == [DecisionEvent.externalScaleRestored(found: 7, restoredTo: 4)])
        // The watch cache still showing our previous count is not someone else.
        let lagging = Scenario(deployment: 2, observation: work(100), reservation: Self.held, lastScaleUpAgo: 1, lastDesired: 4, lastReplicas: 2).decide()
        #expect(lagging.events.isEmpty)
    }

    @Test func drainingBusyWorkersIsAnnouncedOnceWhenItStarts() {
        // Released while one of three workers runs a task: keep it, one event with the grace deadline.
        let start = Scenario(deployment: 3, observation: work(0, busy: 1)).decide()
        #expect(start.desiredReplicas == 1)
        #expect(start.status.drainingSince == Scenario.now)
        #expect(start.events == [.drainingBusyWorkers(busy: 1, deadline: Scenario.now.adding(.hours(1)))])
        #expect(start.status.conditions?.first { $0.type == ConditionType.draining }?.status == "True")
        // Later passes while it still drains: no new event.
        let later = Scenario(deployment: 1, observation: work(0, busy: 1), drainingSinceAgo: 60).decide()
        #expect(later.reason == .drainingBusyWorkers)
        #expect(later.events.isEmpty)
        // Expiry while busy drains the same way.
        let expired = Scenario(deployment: 3, observation: work(0, busy: 2), reservation: (3, nil, 600, -1)).decide()
        #expect(expired.desiredReplicas == 2)
        #expect(expired.clearReservation)
        #expect(expired.events == [.drainingBusyWorkers(busy: 2, deadline: Scenario.now.adding(.hours(1)))])
    }

    @Test func busyAwarenessOffIgnoresRunningTasks() {
        var policy = Self.policy
        policy.busyAware = false
        // Depth-only, as KEDA's Redis scaler: a running task neither keeps the queue awake nor its worker.
        let longAgo: (replicas: Int, band: String?, claimedAgo: Int64, expiresIn: Int64) = (4, nil, 7_200, 86_400)
        let idle = Scenario(deployment: 4, observation: work(0, busy: 1), reservation: longAgo, lastActiveAgo: 3_600).decide(policy)
        #expect(idle.desiredReplicas == 0)
        #expect(idle.reason == .idleSleeping)
        let lowered = Scenario(deployment: 4, observation: work(100, busy: 3), reservation: (1, nil, 600, 86_400)).decide(policy)
        #expect(lowered.desiredReplicas == 1)
        let released = Scenario(deployment: 3, observation: work(0, busy: 1)).decide(policy)
        #expect(released.desiredReplicas == 0)
        #expect(released.events.isEmpty)
        // With it on (the default) the same inputs keep the busy workers.
        let kept = Scenario(deployment: 4, observation: work(0, busy: 1), reservation: longAgo, lastActiveAgo: 3_600).decide()
        #expect(kept.desiredReplicas == 4)
        #expect(kept.reason == .atTarget)
    }

    @Test func conditionsReportRedisAndBudgetAndKeepTransitionTimes() {
        let down = Scenario(deployment: 1, observation: nil, reservation: Self.held).decide()
        let redis = down.status.conditions?.first { $0.type == ConditionType.redisReachable }
        #expect(redis?.status == "False")
        #expect(redis?.reason == "RedisUnreachable")
        var s = Scenario(deployment: 1, observation: nil, reservation: Self.held)
        s.now = KubeTime(secondsSinceEpoch: Scenario.now.secondsSinceEpoch + 10)
        var q = s.input
        q.queue.status = down.status
        let later = BatchCore.decide(q, policy: Self.policy)
        #expect(later.status.conditions?.first { $0.type == ConditionType.redisReachable }?.lastTransitionTime == Scenario.now)
        let limited = Scenario(deployment: 0, observation: work(100), reservation: Self.held, budget: 1).decide()
        #expect(limited.status.conditions?.first { $0.type == ConditionType.budgetLimited }?.status == "True")
    }

    @Test func budgetIsSharedInClaimOrder() {
        var p = Self.policy
        p.totalReplicaBudget = 6
        p.rampUp.every = .zero
        func q(_ name: String, claimedAgo: Int64) -> DecideInput {
            var s = Scenario(deployment: 0, observation: work(100), reservation: (5, nil, claimedAgo, 86_400))
            var input = s.input
            input.queue.metadata.name = name
            s.now = Scenario.now
            return input
        }
        let decisions = decideAll([q("batch2", claimedAgo: 60), q("batch1", claimedAgo: 600), q("batch3", claimedAgo: 30)], policy: p)
        #expect(decisions.map(\.desiredReplicas) == [1, 5, 0])
        #expect(decisions.map(\.reason) == [.budgetLimited, .atTarget, .budgetLimited])
    }
}
