import Testing
@testable import BatchCore

/// One queue's decision and what the cluster looks like, and the exact writes the plan must make.
struct PlanCase: CustomStringConvertible, Sendable {
    static let now = KubeTime(secondsSinceEpoch: 1_800_000_000)   // 2027-01-15 08:00 UTC
    static let queue = BatchQueue(metadata: ObjectMeta(name: "batch1", namespace: "court-listener", generation: 3),
                                  spec: BatchQueueSpec(queue: "batch1", deployment: "celery-batch1", maxReplicas: 20))

    var name: String
    /// The Deployment's `spec.replicas`; nil: it does not exist.
    var replicas: Int?
    var pods: [PodState] = []
    /// Workers with their running tasks, by pod name.
    var busy: [String: Int] = [:]
    /// The status as stored.
    var old = BatchQueueStatus()
    var decision: Decision
    /// Seconds before now that this controller last wrote the status; nil: not since it started.
    var statusWrittenAgo: Int64? = nil
    var busyAware = true
    var expected: [Write]

    var description: String { name }

    /// `expected`, with each Event on this case's BatchQueue (as read, with its status).
    var expectedWrites: [Write] {
        expected.map {
            guard case var .event(e) = $0 else { return $0 }
            e.queue = queue
            return .event(e)
        }
    }

    var queue: BatchQueue {
        var q = Self.queue
        q.status = old
        return q
    }

    func plan() -> WritePlan {
        let deployments = replicas.map { ["celery-batch1": DeploymentState(name: "celery-batch1", replicas: $0, readyReplicas: $0, selector: ["app": "celery-batch1"])] } ?? [:]
        return WritePlan.plan(queue: queue, decision: decision,
                              snapshot: ClusterSnapshot(queues: [queue], deployments: deployments, pods: pods),
                              workers: busy.sorted { $0.key < $1.key }.map { WorkerActivity(hostname: "celery@\($0.key)", active: $0.value) },
                              lastStatusWrite: statusWrittenAgo.map { KubeTime(secondsSinceEpoch: Self.now.secondsSinceEpoch - $0) },
                              now: Self.now, busyAware: busyAware, statusMinInterval: .seconds(5))
    }
}

/// A pod of celery-batch1.
private func planPod(_ name: String, cost: Int? = nil, ready: Bool = true) -> PodState {
    PodState(name: name, labels: ["app": "celery-batch1"], deletionCost: cost, ready: ready)
}

private func planStatus(_ phase: BatchQueuePhase, replicas: Int, desired: Int, depth: Int = 0, conditions: [Condition]? = nil) -> BatchQueueStatus {
    BatchQueueStatus(phase: phase, depth: depth, inFlight: 0, busyWorkers: 0, replicas: replicas, desiredReplicas: desired, conditions: conditions)
}

private func planDecision(_ replicas: Int?, _ reason: DecisionReason, _ status: BatchQueueStatus, clear: Bool = false,
             reminders: [Reminder] = [], events: [DecisionEvent] = []) -> Decision {
    Decision(desiredReplicas: replicas, reason: reason, phase: status.phase ?? .unknown, status: status, clearReservation: clear,
             reminders: reminders, events: events)
}

private func planReminder(_ kind: Reminder.Kind, _ message: String, warning: Bool = false) -> Reminder {
    Reminder(kind: kind, queue: "batch1", holder: "alice", message: message, nextCommand: "batchctl status batch1", isWarning: warning)
}

/// The Event a reminder is recorded as.
private func planRemindEvent(_ r: Reminder) -> Write {
    .event(ControllerEvent(queue: PlanCase.queue, isWarning: r.isWarning, reason: r.kind.rawValue, action: "Remind", note: r.message))
}

private let sleepingReminder = planReminder(.sleeping, "batch1 (alice) had no work for 15 min: its workers sleep until tasks arrive.")
private let expiredReminder = planReminder(.expired, "The reservation of batch1 by alice expired at 2027-01-15 08:00 UTC.", warning: true)
private let budgetCondition = Condition(type: ConditionType.budgetLimited, status: "True", reason: "TotalReplicaBudget",
                       message: "The total replica budget leaves batch1 3 replicas.", lastTransitionTime: PlanCase.now)

@Suite struct PlanTests {
    @Test(arguments: [
        PlanCase(name: "ramp step: one scale up, then the status",
                 replicas: 2, old: planStatus(.running, replicas: 2, desired: 2, depth: 400),
                 decision: planDecision(4, .atTarget, planStatus(.running, replicas: 2, desired: 4, depth: 400)),
                 expected: [.scale(deployment: "celery-batch1", from: 2, to: 4), .status(planStatus(.running, replicas: 2, desired: 4, depth: 400))]),
        PlanCase(name: "sleep: deletion costs that differ, the scale to zero, the status, then the reminder's Event and webhook",
                 replicas: 3, pods: [planPod("p-a"), planPod("p-b", cost: 0), planPod("p-c", cost: 1000)],
                 old: planStatus(.reserved, replicas: 3, desired: 3),
                 decision: planDecision(0, .idleSleeping, planStatus(.sleeping, replicas: 3, desired: 0), reminders: [sleepingReminder]),
                 expected: [.deletionCost(pod: "p-a", cost: 0), .deletionCost(pod: "p-c", cost: 0),
                            .scale(deployment: "celery-batch1", from: 3, to: 0), .status(planStatus(.sleeping, replicas: 3, desired: 0)),
                            planRemindEvent(sleepingReminder), .notify(sleepingReminder)]),
        PlanCase(name: "wake: work arrives, one step up from zero",
                 replicas: 0, old: planStatus(.sleeping, replicas: 0, desired: 0),
                 decision: planDecision(2, .rampingUp, planStatus(.running, replicas: 0, desired: 2, depth: 1)),
                 expected: [.scale(deployment: "celery-batch1", from: 0, to: 2), .status(planStatus(.running, replicas: 0, desired: 2, depth: 1))]),
        PlanCase(name: "release with a busy worker: idle pods cost 0, the busy one 1000, then the scale, the status, DrainingBusyWorkers",
                 replicas: 3, pods: [planPod("p-a", cost: 1000), planPod("p-b"), planPod("p-c")], busy: ["p-c": 1],
                 old: planStatus(.running, replicas: 3, desired: 3),
                 decision: planDecision(1, .drainingBusyWorkers, planStatus(.free, replicas: 3, desired: 1),
                                   events: [.drainingBusyWorkers(busy: 1, deadline: KubeTime(secondsSinceEpoch: 1_800_003_600))]),
                 expected: [.deletionCost(pod: "p-a", cost: 0), .deletionCost(pod: "p-b", cost: 0), .deletionCost(pod: "p-c", cost: 1000),
                            .scale(deployment: "celery-batch1", from: 3, to: 1), .status(planStatus(.free, replicas: 3, desired: 1)),
                            .event(ControllerEvent(queue: PlanCase.queue, isWarning: false, reason: "DrainingBusyWorkers", action: "Scale",
                                                   note: "The reservation of batch1 ended while 1 worker(s) still ran tasks: idle workers were stopped, the busy ones stop when their tasks finish, at the latest at 2027-01-15 09:00 UTC (busyWorkerGrace)."))]),
        PlanCase(name: "expiry: scale to zero, clear the reservation, the status, then the reminder",
                 replicas: 4, old: planStatus(.running, replicas: 4, desired: 4),
                 decision: planDecision(0, .expired, planStatus(.free, replicas: 4, desired: 0), clear: true, reminders: [expiredReminder]),
                 expected: [.scale(deployment: "celery-batch1", from: 4, to: 0), .clearReservation(.expired),
                            .status(planStatus(.free, replicas: 4, desired: 0)), planRemindEvent(expiredReminder), .notify(expiredReminder)]),
        PlanCase(name: "hand-scaled: restored, with a ScaleRestored Event and no status write when it did not change",
                 replicas: 7, old: planStatus(.running, replicas: 4, desired: 4),
                 decision: planDecision(4, .atTarget, planStatus(.running, replicas: 4, desired: 4), events: [.externalScaleRestored(found: 7, restoredTo: 4)]),
                 expected: [.scale(deployment: "celery-batch1", from: 7, to: 4),
                            .event(ControllerEvent(queue: PlanCase.queue, isWarning: true, reason: "ScaleRestored", action: "Scale",
                                                   note: "celery-batch1 was scaled to 7 outside batchctl; restored to 4, as the reservation and policy decide. Use 'batchctl scale batch1 N' to change the holder's ceiling."))]),
        PlanCase(name: "budget limit: a step up to what the budget leaves, and the BudgetLimited condition at once",
                 replicas: 2, old: planStatus(.running, replicas: 2, desired: 2, depth: 90), decision: planDecision(3, .budgetLimited, planStatus(.running, replicas: 2, desired: 3, depth: 90, conditions: [budgetCondition])),
                 statusWrittenAgo: 1,
                 expected: [.scale(deployment: "celery-batch1", from: 2, to: 3), .status(planStatus(.running, replicas: 2, desired: 3, depth: 90, conditions: [budgetCondition]))]),
        PlanCase(name: "paused (no decided replicas) and nothing changed: no write",
                 replicas: 3, old: planStatus(.paused, replicas: 3, desired: 3), decision: planDecision(nil, .paused, planStatus(.paused, replicas: 3, desired: 3)),
                 expected: []),
        PlanCase(name: "the Deployment is missing: no scale",
                 replicas: nil, old: planStatus(.unknown, replicas: 0, desired: 0), decision: planDecision(2, .deploymentMissing, planStatus(.unknown, replicas: 0, desired: 0)),
                 expected: []),
        PlanCase(name: "not busy-aware: no deletion costs, the scale-down goes through",
                 replicas: 3, pods: [planPod("p-a"), planPod("p-b", ready: false)], busy: ["p-b": 2], old: planStatus(.running, replicas: 3, desired: 3),
                 decision: planDecision(1, .scalingDown, planStatus(.running, replicas: 3, desired: 1)), busyAware: false,
                 expected: [.scale(deployment: "celery-batch1", from: 3, to: 1), .status(planStatus(.running, replicas: 3, desired: 1))]),
    ])
    func theWritesOfADecision(_ c: PlanCase) {
        #expect(c.plan().writes == c.expectedWrites)
    }

    @Test(arguments: [
        // (what, written how many seconds ago (nil: never), the new status, written?)
        ("an unimportant change within statusMinInterval waits", Int64?.some(2), planStatus(.running, replicas: 4, desired: 4, depth: 380), false),
        ("an unimportant change after statusMinInterval is written", 5, planStatus(.running, replicas: 4, desired: 4, depth: 380), true),
        ("an unimportant change is written when none was written yet", nil, planStatus(.running, replicas: 4, desired: 4, depth: 380), true),
        ("a phase change is written at once", 1, planStatus(.sleeping, replicas: 4, desired: 4, depth: 400), true),
        ("a replicas change is written at once", 1, planStatus(.running, replicas: 3, desired: 4, depth: 400), true),
        ("a condition's status change is written at once", 1, planStatus(.running, replicas: 4, desired: 4, depth: 400, conditions: [budgetCondition]), true),
        ("no change is never written", 60, planStatus(.running, replicas: 4, desired: 4, depth: 400), false),
    ])
    func statusIsThrottledUnlessSomethingImportantChanged(_ what: String, writtenAgo: Int64?, new: BatchQueueStatus, written: Bool) {
        let c = PlanCase(name: what, replicas: 4, old: planStatus(.running, replicas: 4, desired: 4, depth: 400),
                         decision: planDecision(4, .atTarget, new), statusWrittenAgo: writtenAgo, expected: [])
        #expect(c.plan().writes == (written ? [.status(new)] : []), "\(what)")
    }

    @Test func aBusyWorkerWhosePodIsNotReadyHoldsPartOfTheScaleDown() {
        // The ReplicaSet removes pods that are not ready first: p-a (idle) may go, p-b (busy) would go next.
        let c = PlanCase(name: "safe scale-down", replicas: 3, pods: [planPod("p-a", cost: 0, ready: false), planPod("p-b", ready: false), planPod("p-c", cost: 0)],
                         busy: ["p-b": 1], old: planStatus(.running, replicas: 3, desired: 3),
                         decision: planDecision(1, .scalingDown, planStatus(.running, replicas: 3, desired: 1)), expected: [])
        let plan = c.plan()
        #expect(plan.writes == [.deletionCost(pod: "p-b", cost: 1000), .scale(deployment: "celery-batch1", from: 3, to: 2),
                                .status(planStatus(.running, replicas: 3, desired: 1))])   // the ReplicaSet removes p-a
        #expect(plan.heldScaleDown == HeldScaleDown(deployment: "celery-batch1", decided: 1, scalingTo: 2))
        // Ready again: the deletion cost protects it, the whole scale-down goes through.
        #expect(WritePlan.safeScaleDown(to: 1, from: 3, pods: [planPod("p-a"), planPod("p-b"), planPod("p-c")],
                                        workers: [WorkerActivity(hostname: "celery@p-b", active: 1)]) == 1)
    }

    @Test func aClaimReleasedWhenItsWorkIsDoneIsAnnouncedWithItsUsage() {
        var new = planStatus(.free, replicas: 0, desired: 0)
        let usage = ClaimUsage(holder: "alice", claimedAt: KubeTime(secondsSinceEpoch: 1_799_990_000), endedAt: PlanCase.now, endReason: "WorkDone")
        new.usage = UsageLedger(history: [usage])
        let c = PlanCase(name: "work done", replicas: 0, old: planStatus(.reserved, replicas: 0, desired: 0),
                         decision: planDecision(0, .workDone, new, clear: true), expected: [])
        let text = WritePlan.workDoneText(queue: "batch1", holder: "alice", usage: usage)
        let notice = Reminder(kind: .releasedWorkDone, queue: "batch1", holder: "alice", message: text, nextCommand: "batchctl history batch1", isWarning: false)
        var expected = c
        expected.expected = [.clearReservation(.workDone), .status(new), planRemindEvent(notice), .notify(notice)]
        #expect(c.plan().writes == expected.expectedWrites)
        #expect(text.hasPrefix("released batch1 for alice: work done, 0 tasks, "))
    }

    static let everyStep: [Write] = [
        .deletionCost(pod: "p-a", cost: 0), .deletionCost(pod: "p-b", cost: 1000), .scale(deployment: "celery-batch1", from: 3, to: 1),
        .clearReservation(.workDone), .status(BatchQueueStatus()), planRemindEvent(sleepingReminder), .notify(sleepingReminder),
        .event(ControllerEvent(queue: PlanCase.queue, isWarning: false, reason: "DrainingBusyWorkers", action: "Scale", note: "")),
    ]

    @Test(arguments: [
        // (which write fails, in `everyStep`, → the indices of the later writes it skips)
        (0, 1..<3),   // a deletion cost: the other costs and the scale (a busy pod could go), not what follows
        (1, 2..<3),   // the last deletion cost: the scale
        (2, 3..<3),   // the scale: nothing
        (3, 4..<8),   // clearing a finished claim: everything after (no status or notice saying it was released)
        (4, 5..<8),   // the status: every Event and notification (a reminder is sent only once recorded)
        (5, 6..<6),   // an Event: nothing, the webhook still goes
        (7, 8..<8),   // the last write
    ])
    func aFailedWriteSkipsWhatDependsOnIt(failed: Int, skipped: Range<Int>) {
        #expect(WritePlan.skipped(after: failed, in: Self.everyStep) == skipped)
    }

    @Test func clearingAnExpiredReservationThatFailsSkipsNothingAndAClampThatFailsSkipsItsEvent() throws {
        #expect(WritePlan.skipped(after: 0, in: [.clearReservation(.expired), .status(BatchQueueStatus())]) == 1..<1)
        var q = PlanCase.queue
        q.spec.reservation = Reservation(holder: "alice", reason: "rehash", claimedAt: PlanCase.now,
                                         expiresAt: KubeTime(secondsSinceEpoch: PlanCase.now.secondsSinceEpoch + 3600), replicas: 500)
        let clamp = try #require(WritePlan.clamp(q, policy: BatchConfig.defaults.policy, now: PlanCase.now))
        var clamped = try #require(q.spec.reservation)
        clamped.replicas = 20
        #expect(clamp.writes.first == .clampReservation(clamped))
        #expect(clamp.writes.count == 2)
        if case let .event(e)? = clamp.writes.last {
            #expect(e.reason == "ReservationClamped" && e.isWarning && e.note.contains("replicas 500 was above the queue's cap (20); set to 20"))
        } else {
            Issue.record("no Event after the clamp: \(clamp.writes)")
        }
        #expect(WritePlan.skipped(after: 0, in: clamp.writes) == 1..<2)
        q.spec.reservation?.replicas = 4
        #expect(WritePlan.clamp(q, policy: BatchConfig.defaults.policy, now: PlanCase.now) == nil)
    }

    @Test(arguments: [(0, 0), (-5, 0), (1, 1000), (2_147_483, 2_147_483_000), (2_147_484, Int(Int32.max)), (Int.max, Int(Int32.max)), (Int.min, 0)])
    func deletionCostSaturatesWithinInt32(active: Int, cost: Int) {
        #expect(WritePlan.deletionCost(activeTasks: active) == cost)
    }
}
