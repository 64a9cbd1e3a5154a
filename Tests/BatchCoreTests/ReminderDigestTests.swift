import Testing
@testable import BatchCore

@Suite struct ReminderDigestTests {
    static let now = KubeTime(secondsSinceEpoch: 1_800_000_000)   // 2027-01-15 08:00 UTC

    static func queue(_ name: String, holder: String? = nil, claimedAgo: Int64 = 3_600, expiresIn: Int64 = 86_400 * 3,
                      phase: BatchQueuePhase? = .free, depth: Int? = 0, replicas: Int? = 0, desired: Int? = 0,
                      lastActiveAgo: Int64? = nil) -> BatchQueue {
        let r = holder.map {
            Reservation(holder: $0, claimedAt: KubeTime(secondsSinceEpoch: now.secondsSinceEpoch - claimedAgo),
                        expiresAt: KubeTime(secondsSinceEpoch: now.secondsSinceEpoch + expiresIn), replicas: 4)
        }
        var status = BatchQueueStatus()
        status.phase = phase
        status.depth = depth
        status.inFlight = depth.map { _ in 0 }
        status.busyWorkers = depth.map { _ in 0 }
        status.replicas = replicas
        status.desiredReplicas = desired
        status.lastActiveAt = lastActiveAgo.map { KubeTime(secondsSinceEpoch: now.secondsSinceEpoch - $0) }
        return BatchQueue(metadata: ObjectMeta(name: name, namespace: "court-listener"),
                          spec: BatchQueueSpec(queue: name, deployment: "celery-\(name)", reservation: r), status: status)
    }

    @Test(arguments: [
        ("free and empty", queue("batch0"), "batch0: free; replicas 0/0, depth 0.", nil as String?),
        ("free with tasks", queue("batch2", phase: .orphaned, depth: 250),
         "batch2: free, but 250 task(s) wait and nobody consumes them; replicas 0/0, depth 250. Next: batchctl claim batch2", "batchctl claim batch2"),
        ("held and working", queue("batch1", holder: "alice", phase: .running, depth: 40, replicas: 4, desired: 4),
         "batch1: held by alice since 2027-01-15 07:00 UTC (1 h ago) until 2027-01-18 08:00 UTC (in 3d); replicas 4/4, depth 40.", nil),
        ("held, idle past idleAfter", queue("batch1", holder: "alice", claimedAgo: 86_400, phase: .sleeping, lastActiveAgo: 7_200),
         "batch1: held by alice since 2027-01-14 08:00 UTC (24 h ago) until 2027-01-18 08:00 UTC (in 3d); idle since 2027-01-15 06:00 UTC (2 h); replicas 0/0, depth 0. Next: batchctl release batch1", "batchctl release batch1"),
        ("held, idle since the claim", queue("batch1", holder: "alice", claimedAgo: 300, phase: .reserved),
         "batch1: held by alice since 2027-01-15 07:55 UTC (5 min ago) until 2027-01-18 08:00 UTC (in 3d); idle since 2027-01-15 07:55 UTC (5 min); replicas 0/0, depth 0.", nil),
        ("held, expiring within a day", queue("batch3", holder: "bob", expiresIn: 5_400, phase: .running, depth: 9, replicas: 2, desired: 2),
         "batch3: held by bob since 2027-01-15 07:00 UTC (1 h ago) until 2027-01-15 09:30 UTC (in 1 h 30 min); replicas 2/2, depth 9. Next: batchctl extend batch3 --for 1d", "batchctl extend batch3 --for 1d"),
        ("expired, not yet cleared", queue("batch3", holder: "bob", expiresIn: -60, phase: .running, depth: 9, replicas: 2, desired: 0),
         "batch3: held by bob since 2027-01-15 07:00 UTC (1 h ago); expired at 2027-01-15 07:59 UTC (1 min ago), being released; replicas 2/0, depth 9. Next: batchctl claim batch3", "batchctl claim batch3"),
        ("never observed", queue("batch0", phase: nil, depth: nil, replicas: nil, desired: nil), "batch0: free; replicas 0/0, depth unknown.", nil),
    ])
    func lines(_ name: String, _ q: BatchQueue, _ line: String, _ next: String?) {
        let d = ReminderDigest.build(queues: [q], namespace: "court-listener", now: Self.now, policy: .defaults)
        #expect(d.rows.first?.line == line, "\(name)")
        #expect(d.rows.first?.nextCommand == next, "\(name)")
    }

    @Test func headlineCountsAndSortsByName() {
        let d = ReminderDigest.build(queues: [Self.queue("batch2", phase: .orphaned, depth: 3), Self.queue("batch1", holder: "alice"), Self.queue("batch0")],
                                     namespace: "court-listener", now: Self.now, policy: .defaults)
        #expect(d.rows.map(\.queue) == ["batch0", "batch1", "batch2"])
        #expect(d.text.split(separator: "\n").first == "batchctl digest for court-listener at 2027-01-15 08:00 UTC: 1 of 3 queue(s) held, 1 free with tasks waiting.")
        #expect(d.text.split(separator: "\n").count == 4)
        let empty = ReminderDigest.build(queues: [], namespace: "ns", now: Self.now, policy: .defaults)
        #expect(empty.text == "batchctl digest for ns at 2027-01-15 08:00 UTC: no BatchQueues.")
    }

    @Test func webhookBodies() {
        let d = ReminderDigest.build(queues: [Self.queue("batch1", holder: "alice \"al\"")], namespace: "court-listener", now: Self.now, policy: .defaults)
        let slack = String(decoding: WebhookPayload.digest(d, format: .slack), as: UTF8.self)
        #expect(slack.hasPrefix(#"{"text":"batchctl digest for court-listener at 2027-01-15 08:00 UTC: 1 of 1 queue(s) held.\nbatch1: held by alice \"al\" since"#))
        let json = String(decoding: WebhookPayload.digest(d, format: .json), as: UTF8.self)
        #expect(json.hasPrefix(#"{"generatedAt":"2027-01-15T08:00:00Z","namespace":"court-listener","queues":[{"claimedAt":"2027-01-15T07:00:00Z","depth":0,"desiredReplicas":0,"expiresAt":"2027-01-18T08:00:00Z","holder":"alice \"al\"","idleSince":"2027-01-15T07:00:00Z","nextCommand":"batchctl release batch1","phase":"Free","queue":"batch1","replicas":0}],"text":"#))
        #expect(json.hasSuffix(#"Next: batchctl release batch1","type":"digest"}"#))
    }

    @Test func jsonEscaping() {
        #expect(JSONString.quoted("a\"b\\c\nd\u{1}é") == #""a\"b\\c\nd\u0001é""#)
    }
}
