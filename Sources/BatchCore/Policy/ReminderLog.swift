/// The reminders already sent for a queue, stored in `status.reminders` so that a restart or a
/// leader change never sends one twice.

import MemberwiseInit

public struct ReminderLog: Sendable, Hashable, Codable {
    /// The expiry the `expiringSent` thresholds refer to; extending a claim starts a fresh list.
    public var expiringFor: KubeTime?
    /// Thresholds (in seconds before expiry) already reminded for `expiringFor`.
    public var expiringSent: [Int64]?
    /// The expiry whose "expired" reminder was sent.
    public var expiredFor: KubeTime?
    /// When the queue last went to sleep with a reminder; cleared when it wakes.
    public var sleepingAt: KubeTime?
    /// The last "held but idle" reminder.
    public var idleAt: KubeTime?
    /// The last "tasks on an unclaimed queue" reminder.
    public var orphanedAt: KubeTime?
    /// The last cluster-wide "Redis memory high" reminder. Only the queue that carries cluster-wide
    /// reminders (the first by name, see `decideAll`) records it.
    public var redisMemoryHighAt: KubeTime?
    /// The first delivery time and count of the stranded tasks last reminded (a change sends a new one).
    public var strandedFor: KubeTime?
    public var strandedCount: Int?
}

/// A reminder to send: an Event on the BatchQueue, a log line, and the webhook when configured.
@MemberwiseInit(.public)
public struct Reminder: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case expiringSoon = "ReservationExpiringSoon"
        case expired = "ReservationExpired"
        case sleeping = "QueueSleeping"
        case idle = "ReservationIdle"
        case orphaned = "OrphanedTasks"
        case redisMemoryHigh = "RedisMemoryHigh"
        case stranded = "TasksStranded"
        /// Not a reminder but a notice: the controller released a `--release-when-done` claim.
        case releasedWorkDone = "ReleasedWorkDone"
        /// A guard of the BatchQueuePolicy started holding the ramp (failing or unknown).
        case guardTripped = "GuardTripped"
        /// Every guard is healthy again: the ramp resumes.
        case guardRecovered = "GuardRecovered"
    }
    public var kind: Kind
    public var queue: String
    /// Who should act: the holder, or nil for an unclaimed queue.
    public var holder: String?
    /// One or two sentences naming the queue, the holder, times in UTC and relative, and the next command.
    public var message: String
    /// The exact command to run next.
    public var nextCommand: String
    /// Kubernetes Event type: `Normal` or `Warning`.
    public var isWarning: Bool

    /// The Event reason.
    public var reason: String { kind.rawValue }
}

/// Times as people read them in messages: `2026-11-24 10:00 UTC` and `in 23 h` / `3 h ago`.
public enum TimeText {
    /// `2026-11-24 10:00 UTC`.
    public static func utc(_ t: KubeTime) -> String {
        let s = t.rfc3339   // 2026-11-24T10:00:00Z
        return String(s.prefix(10)) + " " + String(s.dropFirst(11).prefix(5)) + " UTC"
    }

    /// `3d`, `23 h`, `1 h 30 min`, `45 min`, `30 s`: the largest sensible unit, rounded to the nearest
    /// (a 3-day claim read a second later is still "3d"); under two hours, hours and minutes, so the
    /// time left is never overstated by rounding a half hour up.
    public static func span(seconds: Int64) -> String {
        let s = abs(seconds)
        func rounded(_ unit: Int64) -> Int64 { (s + unit / 2) / unit }
        if s >= 47 * 3_600 + 1_800 { return "\(rounded(86_400))d" }
        let minutes = rounded(60)
        if minutes >= 120 { return "\(rounded(3_600)) h" }
        if minutes >= 60 { return minutes == 60 ? "1 h" : "1 h \(minutes - 60) min" }
        if s >= 60 { return "\(minutes) min" }
        return "\(s) s"
    }

    /// `in 23 h` for a future instant, `3 h ago` for a past (or the present) one.
    public static func relative(_ t: KubeTime, now: KubeTime) -> String {
        let d = t.secondsSinceEpoch - now.secondsSinceEpoch
        return d > 0 ? "in \(span(seconds: d))" : "\(span(seconds: d)) ago"
    }
}
