/// The `batchctl remind` digest: who holds what, since when, until when, idle for how long, replicas and
/// depth, with the next command where one is due. Built from the BatchQueues alone (their status is the
/// controller's last reading), so it needs neither Redis nor the controller. Pure.
public struct ReminderDigest: Sendable, Equatable {
    /// One queue's line.
    public struct Row: Sendable, Equatable {
        public var queue: String
        public var holder: String?
        public var claimedAt: KubeTime?
        public var expiresAt: KubeTime?
        /// When a held queue last had work; nil when it has work now or is free.
        public var idleSince: KubeTime?
        public var phase: String
        public var replicas: Int?
        public var desiredReplicas: Int?
        public var depth: Int?
        /// The command worth running now, if any.
        public var nextCommand: String?
        /// The line as printed.
        public var line: String
    }

    public var namespace: String
    public var now: KubeTime
    public var rows: [Row]
    /// The whole digest as printed and posted: a headline, then one line per queue.
    public var text: String

    /// Builds the digest.
    /// - Parameters:
    ///   - queues: the BatchQueues as read (any order; the digest sorts them by name).
    ///   - now: the time of the digest.
    ///   - policy: `idleAfter` and the largest `reminders.expiringBefore` decide when to suggest release or extend.
    public static func build(queues: [BatchQueue], namespace: String, now: KubeTime, policy: BatchConfig) -> ReminderDigest {
        let soon = policy.reminders.expiringBefore.map { $0.milliseconds / 1000 }.max() ?? 0
        let idleAfter = policy.idleAfter.milliseconds / 1000
        var rows: [Row] = []
        for q in queues.sorted(by: { ($0.metadata.name ?? "") < ($1.metadata.name ?? "") }) {
            let name = q.metadata.name ?? q.queueName
            let s = q.status ?? BatchQueueStatus()
            let phase = (s.phase ?? .unknown).rawValue
            let depth = s.depth
            let counts = "replicas \(s.replicas ?? 0)/\(s.desiredReplicas ?? s.replicas ?? 0), depth \(depth.map(String.init) ?? "unknown")"
            guard let r = q.spec.reservation else {
                var row = Row(queue: name, phase: phase, replicas: s.replicas, desiredReplicas: s.desiredReplicas, depth: depth, line: "")
                if let d = depth, d > 0 {
                    row.nextCommand = "batchctl claim \(name)"
                    row.line = "\(name): free, but \(d) task(s) wait and nobody consumes them; \(counts). Next: \(row.nextCommand!)"
                } else {
                    row.line = "\(name): free; \(counts)."
                }
                rows.append(row)
                continue
            }
            var row = Row(queue: name, holder: r.holder, claimedAt: r.claimedAt, expiresAt: r.expiresAt, phase: phase,
                          replicas: s.replicas, desiredReplicas: s.desiredReplicas, depth: depth, line: "")
            let held = "held by \(r.holder) since \(TimeText.utc(r.claimedAt)) (\(TimeText.relative(r.claimedAt, now: now)))"
            if r.expiresAt <= now {
                row.nextCommand = "batchctl claim \(name)"
                row.line = "\(name): \(held); expired at \(TimeText.utc(r.expiresAt)) (\(TimeText.relative(r.expiresAt, now: now))), being released; \(counts). Next: \(row.nextCommand!)"
                rows.append(row)
                continue
            }
            let hasWork = s.hasWork
            var idle = ""
            if !hasWork {
                let since = max(s.lastActiveAt ?? r.claimedAt, r.claimedAt)
                row.idleSince = since
                idle = "; idle since \(TimeText.utc(since)) (\(TimeText.span(seconds: now.secondsSinceEpoch - since.secondsSinceEpoch)))"
            }
            let left = r.expiresAt.secondsSinceEpoch - now.secondsSinceEpoch
            if let since = row.idleSince, now.secondsSinceEpoch - since.secondsSinceEpoch >= idleAfter {
                row.nextCommand = "batchctl release \(name)"
            } else if left <= soon {
                row.nextCommand = "batchctl extend \(name) --for 1d"
            }
            row.line = "\(name): \(held) until \(TimeText.utc(r.expiresAt)) (\(TimeText.relative(r.expiresAt, now: now)))\(idle); \(counts)."
                + UsageText.soFar(q.status, reservation: r, queue: name) + (row.nextCommand.map { " Next: \($0)" } ?? "")
            rows.append(row)
        }
        let heldCount = rows.filter { $0.holder != nil }.count
        let orphaned = rows.filter { $0.holder == nil && ($0.depth ?? 0) > 0 }.count
        var headline = "batchctl digest for \(namespace) at \(TimeText.utc(now)): \(heldCount) of \(rows.count) queue(s) held"
        headline += orphaned > 0 ? ", \(orphaned) free with tasks waiting." : "."
        if rows.isEmpty { headline = "batchctl digest for \(namespace) at \(TimeText.utc(now)): no BatchQueues." }
        let text = ([headline] + rows.map(\.line)).joined(separator: "\n")
        return ReminderDigest(namespace: namespace, now: now, rows: rows, text: text)
    }
}
