import Testing
@testable import BatchCore

@Suite struct UsageLedgerTests {
    static let t0 = KubeTime(secondsSinceEpoch: 1_800_000_000)
    static func at(_ seconds: Double) -> KubeTime { KubeTime(microsecondsSinceEpoch: t0.microsecondsSinceEpoch + Int64(seconds * 1_000_000)) }
    static let alice = Reservation(holder: "alice", claimedAt: t0, expiresAt: at(86_400), replicas: 5)
    static let bob = Reservation(holder: "bob", claimedAt: at(1000), expiresAt: at(90_000), replicas: 5)
    static func pod(_ name: String, started: Double = 0, busy: Bool = false, done: Int? = nil, until: Double? = nil) -> UsagePod {
        UsagePod(name: name, startedAt: at(started), busy: busy, completed: done, until: until.map(at))
    }

    /// One pass: at `time`, with `reservation` held, these pods running.
    struct Pass: Sendable {
        var time: Double
        var reservation: Reservation?
        var pods: [UsagePod]
        var ending: ClaimEnd? = nil
    }

    /// A sequence of passes and what the ledger reads afterwards: (busy, idle, tasks, peak) of the latest claim.
    @Test(arguments: [
        ("two pods for 10 s, one busy", [
            Pass(time: 0, reservation: alice, pods: []),
            Pass(time: 10, reservation: alice, pods: [pod("a", busy: true, done: 4), pod("b", done: 0)]),
        ], 10.0, 10.0, 4, 2),
        ("a pod counts from its start, not from the last pass", [
            Pass(time: 0, reservation: alice, pods: []),
            Pass(time: 10, reservation: alice, pods: [pod("a", started: 7, done: 0)]),
        ], 0.0, 3.0, 0, 1),
        ("skipped passes (unwritten status) are counted by the next one", [
            Pass(time: 0, reservation: alice, pods: [pod("a", done: 0)]),
            Pass(time: 30, reservation: alice, pods: [pod("a", busy: true, done: 10)]),
        ], 30.0, 0.0, 10, 1),
        ("tasks count only growth per worker; a counter that went back is a new baseline", [
            Pass(time: 0, reservation: alice, pods: [pod("a", done: 5)]),
            Pass(time: 1, reservation: alice, pods: [pod("a", done: 8)]),
            Pass(time: 2, reservation: alice, pods: [pod("a", done: 2)]),
            Pass(time: 3, reservation: alice, pods: [pod("a", done: 3)]),
        ], 0.0, 3.0, 4, 1),
        ("a worker first heard of after the ledger started: all its tasks are new", [
            Pass(time: 0, reservation: alice, pods: []),
            Pass(time: 1, reservation: alice, pods: [pod("a", started: 0.5, done: 7)]),
        ], 0.0, 0.5, 7, 1),
        ("a worker not heard this pass keeps its baseline", [
            Pass(time: 0, reservation: alice, pods: [pod("a", done: 5)]),
            Pass(time: 1, reservation: alice, pods: [pod("a", done: nil)]),
            Pass(time: 2, reservation: alice, pods: [pod("a", done: 6)]),
        ], 0.0, 2.0, 1, 1),
        ("hostile counts are clamped and saturate", [
            Pass(time: 0, reservation: alice, pods: [pod("a", done: 0), pod("b", done: 0)]),
            Pass(time: 1, reservation: alice, pods: [pod("a", done: Int.max), pod("b", done: -5)]),
        ], 0.0, 2.0, UsageLedger.maxTasks, 2),
        ("a controller down for hours counts at most maxInterval", [
            Pass(time: 0, reservation: alice, pods: [pod("a")]),
            Pass(time: 7200, reservation: alice, pods: [pod("a")]),
        ], 0.0, 900.0, 0, 1),
        ("a pod that stopped since the last write counts until it was last seen, with its last task count", [
            Pass(time: 0, reservation: alice, pods: [pod("a", done: 0), pod("b", done: 0)]),
            Pass(time: 5, reservation: alice, pods: [pod("a", done: 1, until: 3), pod("b", done: 4)]),
            Pass(time: 6, reservation: alice, pods: [pod("b", done: 4)]),
        ], 0.0, 9.0, 5, 2),
        ("after release, workers finishing are credited to the claim that ended", [
            Pass(time: 0, reservation: alice, pods: [pod("a", done: 0)]),
            Pass(time: 5, reservation: nil, pods: [pod("a", busy: true, done: 1)]),
            Pass(time: 8, reservation: nil, pods: [pod("a", done: 2)]),
        ], 5.0, 3.0, 2, 1),
    ] as [(String, [Pass], Double, Double, Int, Int)])
    func accounts(_ name: String, _ passes: [Pass], _ busy: Double, _ idle: Double, _ tasks: Int, _ peak: Int) throws {
        var ledger = UsageLedger()
        for p in passes { ledger.account(reservation: p.reservation, ending: p.ending, pods: p.pods, now: Self.at(p.time)) }
        let u = try #require(ledger.latest, "\(name)")
        #expect(abs(u.busyReplicaSeconds - busy) < 1e-6, "\(name)")
        #expect(abs(u.idleReplicaSeconds - idle) < 1e-6, "\(name)")
        #expect(u.tasksCompleted == tasks, "\(name)")
        #expect(u.peakReplicas == peak, "\(name)")
    }

    @Test("claims end into the history (released, replaced, work done), at most 20 kept, newest last")
    func history() throws {
        var ledger = UsageLedger()
        ledger.account(reservation: Self.alice, ending: nil, pods: [], now: Self.at(0))
        ledger.account(reservation: Self.bob, ending: nil, pods: [], now: Self.at(1000))
        #expect(ledger.history?.map(\.endReason) == ["Replaced"])
        ledger.account(reservation: Self.bob, ending: .workDone, pods: [], now: Self.at(1001))
        #expect(ledger.current == nil)
        #expect(ledger.history?.map(\.holder) == ["alice", "bob"])
        #expect(ledger.history?.last?.endReason == "WorkDone")
        #expect(ledger.history?.last?.endedAt == Self.at(1001))
        for i in 0..<30 {
            let r = Reservation(holder: "u\(i)", claimedAt: Self.at(2000 + Double(i)), expiresAt: Self.at(90_000), replicas: 1)
            ledger.account(reservation: r, ending: nil, pods: [], now: Self.at(2000 + Double(i)))
            ledger.account(reservation: nil, ending: nil, pods: [], now: Self.at(2000.5 + Double(i)))
        }
        #expect(ledger.history?.count == UsageLedger.historyLimit)
        #expect(ledger.history?.last?.holder == "u29")
        #expect(ledger.history?.last?.endReason == "Released")
    }

    @Test("an idle queue's ledger does not change from pass to pass (no status writes)")
    func idleIsStable() {
        var ledger = UsageLedger()
        ledger.account(reservation: Self.alice, ending: nil, pods: [], now: Self.at(0))
        let before = ledger
        ledger.account(reservation: Self.alice, ending: nil, pods: [], now: Self.at(60))
        #expect(ledger == before)
        #expect(!UsageLedger.mustWrite(from: before, to: ledger))
    }

    @Test("a stopped pod gets no baseline, and the running count drops at once (a write that must be made)")
    func stoppedPod() {
        var ledger = UsageLedger()
        ledger.account(reservation: Self.alice, ending: nil, pods: [Self.pod("a", done: 0), Self.pod("b", done: 0)], now: Self.at(0))
        let before = ledger
        ledger.account(reservation: Self.alice, ending: nil, pods: [Self.pod("a", done: 2, until: 1), Self.pod("b", done: 0)], now: Self.at(2))
        #expect(ledger.workers == ["b": 0])
        #expect(ledger.running == 1)
        #expect(ledger.current?.peakReplicas == 2)
        #expect(UsageLedger.mustWrite(from: before, to: ledger))
    }

    @Test("growth between two written ledgers, per claim")
    func growth() {
        var ledger = UsageLedger()
        ledger.account(reservation: Self.alice, ending: nil, pods: [Self.pod("a", done: 0)], now: Self.at(0))
        let first = ledger
        ledger.account(reservation: Self.alice, ending: nil, pods: [Self.pod("a", busy: true, done: 3)], now: Self.at(4))
        let g = UsageLedger.growth(from: first, to: ledger)
        #expect(g.count == 1)
        #expect(g.first?.holder == "alice")
        #expect(g.first?.busySeconds == 4)
        #expect(g.first?.tasks == 3)
    }

    @Test(arguments: [
        (0, "0"), (999, "999"), (1204, "1,204"), (1_000_000, "1,000,000"), (-1204, "-1,204"),
    ])
    func counts(_ n: Int, _ text: String) { #expect(UsageText.count(n) == text) }

    @Test(arguments: [
        (3.2, "3.2"), (3.24, "3.2"), (0.04, "0.04"), (0.0028, "0.003"), (0, "0.0"), (1234.56, "1,234.6"), (0.1, "0.1"), (Double.nan, "0"), (-5, "0.0"), (1e300, "888,888,888.9"),
    ])
    func hours(_ h: Double, _ text: String) { #expect(UsageText.hours(h) == text) }

    @Test("the release message names the task count and replica-hours")
    func summary() {
        let u = ClaimUsage(holder: "alice", claimedAt: Self.t0, busyReplicaSeconds: 10080, idleReplicaSeconds: 1440, tasksCompleted: 1204, peakReplicas: 5)
        #expect(UsageText.summary(u) == "1,204 tasks, 3.2 replica-hours")
        #expect(UsageText.sentence(u, queue: "batch1") == "alice used 3.2 replica-hours on batch1, 0.4 of them idle, 1,204 tasks completed")
    }
}

@Suite struct UsageInMessagesTests {
    static let t0 = KubeTime(secondsSinceEpoch: 1_800_000_000)

    static func held(usage holder: String) -> BatchQueue {
        let r = Reservation(holder: "alice", claimedAt: t0, expiresAt: KubeTime(secondsSinceEpoch: t0.secondsSinceEpoch + 86_400), replicas: 3)
        var s = BatchQueueStatus(phase: .sleeping, depth: 0, inFlight: 0, busyWorkers: 0, replicas: 0, readyReplicas: 0, desiredReplicas: 0)
        s.lastActiveAt = KubeTime(secondsSinceEpoch: t0.secondsSinceEpoch + 60)
        s.usage = UsageLedger(current: ClaimUsage(holder: holder, claimedAt: t0, busyReplicaSeconds: 10_080, idleReplicaSeconds: 1_440, tasksCompleted: 1_204))
        return BatchQueue(metadata: ObjectMeta(name: "batch1"), spec: BatchQueueSpec(deployment: "celery-batch1", reservation: r), status: s)
    }

    @Test("the digest and the idle reminders say what the claim used so far; another claim's usage is not shown")
    func usageInDigestAndReminders() {
        let now = KubeTime(secondsSinceEpoch: Self.t0.secondsSinceEpoch + 3600)
        let digest = ReminderDigest.build(queues: [Self.held(usage: "alice")], namespace: "ns", now: now, policy: .defaults)
        #expect(digest.text.contains(" So far alice used 3.2 replica-hours on batch1, 0.4 of them idle, 1,204 tasks completed."), "\(digest.text)")
        #expect(!ReminderDigest.build(queues: [Self.held(usage: "bob")], namespace: "ns", now: now, policy: .defaults).text.contains("So far"))
        let d = decide(DecideInput(queue: Self.held(usage: "alice"), observation: QueueObservation(depth: 0, inFlight: 0, busyWorkers: 0),
                                   deployment: DeploymentState(name: "celery-batch1", replicas: 0, readyReplicas: 0, selector: [:]), now: now), policy: .defaults)
        let sleeping = d.reminders.first { $0.kind == .sleeping }
        #expect(sleeping?.message.hasSuffix("So far alice used 3.2 replica-hours on batch1, 0.4 of them idle, 1,204 tasks completed.") == true, "\(d.reminders)")
    }
}
