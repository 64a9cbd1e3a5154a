import Testing
@testable import BatchCore

@Suite struct StatusTableTests {
    static let now = KubeTime(secondsSinceEpoch: 1_800_000_000)   // 2027-01-15 08:00 UTC

    static func queue(_ name: String, holder: String? = nil, depth: Int?, phase: BatchQueuePhase, ready: Int = 0, desired: Int = 0) -> BatchQueue {
        let r = holder.map {
            Reservation(holder: $0, reason: "rehash passwords", claimedAt: KubeTime(secondsSinceEpoch: now.secondsSinceEpoch - 86_400),
                        expiresAt: KubeTime(secondsSinceEpoch: now.secondsSinceEpoch + 3 * 86_400), replicas: 5)
        }
        return BatchQueue(metadata: ObjectMeta(name: name), spec: BatchQueueSpec(queue: name, deployment: "celery-\(name)", maxReplicas: 20, reservation: r),
                          status: depth.map { BatchQueueStatus(phase: phase, depth: $0, inFlight: 8, busyWorkers: 3, readyReplicas: ready, desiredReplicas: desired) })
    }

    static let queues = [
        queue("batch0", depth: 0, phase: .free),
        queue("batch1", holder: "alice@example.org", depth: 1_200, phase: .running, ready: 4, desired: 5),
        queue("batch2", depth: 640, phase: .orphaned),
        queue("batch3", depth: nil, phase: .unknown),
    ]

    @Test func plainTable() {
        let text = StatusTable(thresholds: BatchConfig.defaults.queueDepth, color: false).render(Self.queues, now: Self.now)
        #expect(text == """
            QUEUE   HOLDER             REASON            EXPIRES                       DEPTH  INFLIGHT  READY/DESIRED  PHASE
            batch0  -                  -                 -                             0      8         0/0            Free
            batch1  alice@example.org  rehash passwords  2027-01-18 08:00 UTC (in 3d)  1,200  8         4/5            Running
            batch2  -                  -                 -                             640    8         0/0            Orphaned
            batch3  -                  -                 -                             ?      ?         ?/?            Unknown

            """)
    }

    @Test func aGuardHeldQueueSaysSoInItsPhase() {
        var q = Self.queue("batch1", holder: "alice@example.org", depth: 1_200, phase: .running, ready: 3, desired: 3)
        q.status?.conditions = [Condition(type: ConditionType.guarded, status: "True", reason: "GuardFailing",
                                          message: "guard db is failing", lastTransitionTime: Self.now)]
        let text = StatusTable(thresholds: BatchConfig.defaults.queueDepth, color: false).render([q], now: Self.now)
        #expect(text.contains("3/3            Running (guard-held)\n"), "\(text)")
        q.status?.conditions?[0].status = "False"
        #expect(!StatusTable(thresholds: BatchConfig.defaults.queueDepth, color: false).render([q], now: Self.now).contains("guard-held"))
    }

    @Test func colourFollowsTheTeamsDepthThresholds() {
        let text = StatusTable(thresholds: BatchConfig.defaults.queueDepth, color: true).render(Self.queues, now: Self.now)
        #expect(text.contains("\u{1B}[32m0\u{1B}[0m     "))        // under 100: green, padding outside the colour
        #expect(text.contains("\u{1B}[31m1,200\u{1B}[0m"))         // 1,000 and more: red
        #expect(text.contains("\u{1B}[33m640\u{1B}[0m"))           // 500 to 999: yellow
        #expect(text.contains("\u{1B}[31mOrphaned\u{1B}[0m"))
        let plain = StatusTable(thresholds: BatchConfig.defaults.queueDepth, color: true).render([Self.queue("b", depth: 300, phase: .free)], now: Self.now)
        #expect(plain.contains("  300  "))                         // 100 to 499: plain
        #expect(!plain.contains("\u{1B}[32m300") && !plain.contains("\u{1B}[33m300"))
    }

    @Test func wideAddsClaimBusyStrandedBandMaxAndUsage() {
        let text = StatusTable(thresholds: BatchConfig.defaults.queueDepth, color: false, wide: true).render([Self.queues[1]], now: Self.now)
        #expect(text.hasPrefix("QUEUE   HOLDER             REASON            EXPIRES                       DEPTH  INFLIGHT  READY/DESIRED  PHASE    CLAIMED               BUSY  STRANDED  BAND  MAX  USED\n"))
        #expect(text.hasSuffix("Running  2027-01-14 08:00 UTC  3     -         -     20   -\n"))
        // The current claim's replica-hours, from the usage ledger.
        var used = Self.queues[1]
        used.status?.usage = UsageLedger(current: ClaimUsage(holder: "alice@example.org", claimedAt: Self.now, busyReplicaSeconds: 10_080, idleReplicaSeconds: 1_440))
        let usedText = StatusTable(thresholds: BatchConfig.defaults.queueDepth, color: false, wide: true).render([used], now: Self.now)
        #expect(usedText.hasSuffix("  20   3.2 h\n"), "\(usedText)")
        // Tasks held by a worker that died: how many, and when Celery redelivers the first.
        var stranded = Self.queues[1]
        stranded.status?.stranded = 1
        stranded.status?.strandedRedeliveryAt = KubeTime(secondsSinceEpoch: Self.now.secondsSinceEpoch + 3600)
        let wide = StatusTable(thresholds: BatchConfig.defaults.queueDepth, color: false, wide: true).render([stranded], now: Self.now)
        #expect(wide.contains("  1 (redelivered \(TimeText.utc(KubeTime(secondsSinceEpoch: Self.now.secondsSinceEpoch + 3600))))  -"), "\(wide)")
    }

    @Test(arguments: [(0, "0"), (999, "999"), (1_000, "1,000"), (1_234_567, "1,234,567"), (-1_200, "-1,200")])
    func groupsThousands(_ n: Int, _ text: String) {
        #expect(StatusTable.grouped(n) == text)
    }
}

@Suite struct TimeTextTests {
    @Test(arguments: [
        (3 * 86_400, "3d"), (3 * 86_400 - 1, "3d"), (2 * 86_400 - 1, "2d"), (47 * 3_600, "47 h"), (23 * 3_600, "23 h"),
        (24 * 3_600 - 1, "24 h"), (3_540, "59 min"), (90, "2 min"), (60, "1 min"), (59, "59 s"), (0, "0 s"), (-3_600, "1 h"),
        (5_400, "1 h 30 min"), (7_199, "2 h"), (3_629, "1 h"), (3_631, "1 h 1 min"),
    ] as [(Int64, String)])
    func spansRoundToTheNearestUnit(_ seconds: Int64, _ text: String) {
        #expect(TimeText.span(seconds: seconds) == text)
    }
}
