/// What one claim used: replica time (busy and idle), tasks completed, peak replicas, first and last task.
/// Kept in `status.usage` of the BatchQueue, so a controller restart loses at most one poll of it.

import MemberwiseInit

@MemberwiseInit(.public)
public struct ClaimUsage: Sendable, Hashable, Codable {
    /// The claim's holder.
    public var holder: String
    /// The claim's `claimedAt` (with `holder`, what identifies the claim).
    public var claimedAt: KubeTime
    /// When the claim ended; nil while it is held.
    public var endedAt: KubeTime?
    /// How it ended: `Released`, `Expired`, `WorkDone` (released by the controller, `--release-when-done`) or
    /// `Replaced` (another claim was found in its place).
    public var endReason: String?
    /// Σ over running worker pods of the time they ran tasks, in seconds.
    public var busyReplicaSeconds: Double = 0
    /// Σ over running worker pods of the time they ran none, in seconds.
    public var idleReplicaSeconds: Double = 0
    /// Tasks the queue's workers completed (from the `processed` and `active` counters of their heartbeats).
    public var tasksCompleted: Int = 0
    /// The most worker pods that ran at once.
    public var peakReplicas: Int = 0
    /// When the first completed task was seen (at poll precision).
    public var firstTaskAt: KubeTime?
    /// When the last completed task was seen (at poll precision).
    public var lastTaskAt: KubeTime?

    /// Busy plus idle replica-seconds.
    public var replicaSeconds: Double { busyReplicaSeconds + idleReplicaSeconds }
    /// Replica-seconds / 3600.
    public var replicaHours: Double { replicaSeconds / 3600 }
    /// Idle replica-seconds / 3600.
    public var idleReplicaHours: Double { idleReplicaSeconds / 3600 }
}

/// How a claim ended, as recorded in `ClaimUsage.endReason`.
public enum ClaimEnd: String, Sendable, Hashable, CaseIterable {
    case released = "Released"
    case expired = "Expired"
    case workDone = "WorkDone"
    case replaced = "Replaced"
}

/// A running worker pod as the ledger counts it.
@MemberwiseInit(.public)
public struct UsagePod: Sendable, Hashable {
    public var name: String
    /// When its worker started (container `startedAt`); the pod is counted only from then.
    public var startedAt: KubeTime
    /// Its worker's heartbeat reports running tasks.
    public var busy: Bool
    /// Tasks its worker completed so far (`processed − active`, clamped), or nil when no heartbeat was heard.
    public var completed: Int?
    /// Set for a pod that has stopped since the ledger was last written: when it was last seen running (it
    /// counts up to then, and its worker's last count is taken; it gets no baseline).
    public var until: KubeTime?
}

/// Per-claim usage accounting, in `status.usage`. Pure: time and observations are passed in.
///
/// Each pass adds, for every running pod, the time since `accountedAt` (or since the pod started, if later) to
/// the claim's busy or idle replica-seconds, and each worker's completed tasks beyond the count last recorded
/// for it (`workers`). Because the baseline is in the status the controller last wrote, a pass whose status
/// write was skipped (or a controller killed before writing) is simply counted by the next pass. Pods that
/// stopped since the last write are passed in with `UsagePod.until` (the controller remembers when it last saw
/// them), and a change in the number of running pods is always written (see `running`), so only a controller
/// killed between a pod's stop and the next write loses that pod's time since the last write.
@MemberwiseInit(.public)
public struct UsageLedger: Sendable, Hashable, Codable {
    /// When the ledger last counted; the next pass counts from here.
    public var accountedAt: MicroTime?
    /// Worker pods running when it last counted.
    public var running: Int?
    /// Tasks completed by each running worker pod as last counted (the baseline for the next pass).
    public var workers: [String: Int]?
    /// The claim being held; nil while the queue is free.
    public var current: ClaimUsage?
    /// The last `historyLimit` claims, oldest first; the last one also gets what its workers do after it ended.
    public var history: [ClaimUsage]?

    /// Claims kept in `history`.
    public static let historyLimit = 20
    /// Worker baselines kept at most (a Deployment is capped far below this).
    public static let maxWorkers = 1000
    /// The longest interval one pass counts: a controller that was down longer than this does not guess
    /// what ran meanwhile from what runs now.
    public static let maxInterval: Int64 = 15 * 60 * 1_000_000
    /// Replica-seconds are capped here (a century of a thousand replicas), so sums cannot overflow.
    public static let maxReplicaSeconds = 3.2e12
    /// Tasks completed by one worker are capped here (the heartbeat reader's own limit).
    public static let maxTasks = 1_000_000_000

    /// What one pass added, for metrics.
    public struct Delta: Sendable, Hashable {
        public var holder: String?
        public var busySeconds: Double = 0
        public var idleSeconds: Double = 0
        public var tasks = 0
        public init(holder: String? = nil) { self.holder = holder }
    }

    /// Counts one pass.
    /// - Parameters:
    ///   - reservation: the claim held during this pass (nil when free or released).
    ///   - ending: how the claim ends this pass when the controller clears it (expired, work done), else nil.
    ///   - pods: the queue's running worker pods.
    ///   - now: the time of this pass.
    /// - Returns: what was added (replica time and tasks), and for whom.
    @discardableResult
    public mutating func account(reservation: Reservation?, ending: ClaimEnd?, pods: [UsagePod], now: KubeTime) -> Delta {
        let pods = Array(pods.prefix(Self.maxWorkers))
        let isNew = accountedAt == nil
        let previousRunning = running
        var delta = Delta()

        // 1. A different claim than the one counted: the old one ended (released, or replaced).
        if let c = current, c.holder != reservation?.holder || c.claimedAt != reservation?.claimedAt {
            close(reservation == nil ? .released : .replaced, at: now)
        }
        if current == nil, let r = reservation {
            current = ClaimUsage(holder: r.holder, claimedAt: r.claimedAt)
        }

        // 2. Replica time since the last count (or since each pod started), up to now (or until a stopped pod
        //    was last seen), busy or idle.
        let nowUS = now.microsecondsSinceEpoch
        let last = max(accountedAt?.time.microsecondsSinceEpoch ?? nowUS, nowUS &- Self.maxInterval)
        for pod in pods {
            let from = max(last, pod.startedAt.microsecondsSinceEpoch)
            let to = min(pod.until?.microsecondsSinceEpoch ?? nowUS, nowUS)
            let ran = max(0, to - from)
            let seconds = Double(ran) / 1_000_000
            if pod.busy { delta.busySeconds += seconds } else { delta.idleSeconds += seconds }
        }

        // 3. Tasks: per worker, only growth counts (a counter that went back, say a restarted container, is a new baseline).
        var baselines: [String: Int] = [:]
        for pod in pods {
            guard let done = pod.completed.map({ min(max(0, $0), Self.maxTasks) }) else {
                if let known = workers?[pod.name], pod.until == nil { baselines[pod.name] = known }
                continue
            }
            if let known = workers?[pod.name] {
                if done > known { delta.tasks = delta.tasks.addingSaturating(done - known) }
            } else if !isNew {
                delta.tasks = delta.tasks.addingSaturating(done)   // a worker first heard of: all its tasks are new
            }
            if pod.until == nil { baselines[pod.name] = done }
        }
        let runningNow = pods.filter { $0.until == nil }

        // 4. Credit the claim that held this interval: the current one, else the last one (its workers finishing).
        let credited = apply(delta, running: runningNow.count, now: now)
        delta.holder = credited
        workers = baselines.isEmpty ? nil : baselines
        running = runningNow.count
        // With nothing running, the clock is left alone (an idle queue causes no status writes); when pods
        // start, each counts from its own start.
        if !pods.isEmpty || accountedAt == nil || running != previousRunning { accountedAt = MicroTime(now) }

        // 5. The controller ends the claim this pass (expired, work done).
        if let ending, current != nil { close(ending, at: now) }
        return delta
    }

    /// Adds `delta` to the current claim, or to the last one in history; returns its holder.
    mutating func apply(_ delta: Delta, running: Int, now: KubeTime) -> String? {
        func add(_ u: inout ClaimUsage) {
            u.busyReplicaSeconds = min(Self.maxReplicaSeconds, u.busyReplicaSeconds + delta.busySeconds)
            u.idleReplicaSeconds = min(Self.maxReplicaSeconds, u.idleReplicaSeconds + delta.idleSeconds)
            u.tasksCompleted = u.tasksCompleted.addingSaturating(delta.tasks)
            u.peakReplicas = max(u.peakReplicas, running)
            if delta.tasks > 0 {
                if u.firstTaskAt == nil { u.firstTaskAt = now }
                u.lastTaskAt = now
            }
        }
        if current != nil {
            add(&current!)
            return current?.holder
        }
        guard delta.busySeconds + delta.idleSeconds > 0 || delta.tasks > 0, var h = history, !h.isEmpty else { return nil }
        add(&h[h.count - 1])
        history = h
        return h.last?.holder
    }

    /// Moves the current claim into the history, ended at `now` for `reason`.
    mutating func close(_ reason: ClaimEnd, at now: KubeTime) {
        guard var c = current else { return }
        c.endedAt = now
        c.endReason = reason.rawValue
        var h = history ?? []
        h.append(c)
        history = Array(h.suffix(Self.historyLimit))
        current = nil
    }

    /// The claim held now, or else the last one that ended.
    public var latest: ClaimUsage? { current ?? history?.last }
}

extension Int {
    /// `self + other`, at `Int.max` instead of overflowing.
    func addingSaturating(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? Int.max : Int.min) : sum
    }
}

extension UsageLedger {
    /// What `new` added over `old` (two ledgers as written, a pass or more apart), per claim by holder and
    /// `claimedAt`: for counters that follow what was stored, not what each pass computed.
    public static func growth(from old: UsageLedger?, to new: UsageLedger?) -> [Delta] {
        guard let new else { return [] }
        let before = (old?.history ?? []) + (old?.current.map { [$0] } ?? [])
        let after = (new.history ?? []) + (new.current.map { [$0] } ?? [])
        var out: [Delta] = []
        for u in after {
            let o = before.last { $0.holder == u.holder && $0.claimedAt == u.claimedAt }
            var d = Delta(holder: u.holder)
            d.busySeconds = max(0, u.busyReplicaSeconds - (o?.busyReplicaSeconds ?? 0))
            d.idleSeconds = max(0, u.idleReplicaSeconds - (o?.idleReplicaSeconds ?? 0))
            d.tasks = max(0, u.tasksCompleted - (o?.tasksCompleted ?? 0))
            if d.busySeconds > 0 || d.idleSeconds > 0 || d.tasks > 0 { out.append(d) }
        }
        return out
    }
}

/// Usage as people read it: `1,204 tasks, 3.2 replica-hours (0.4 idle)`.
public enum UsageText {
    /// `1,204`: thousands separated by commas.
    public static func count(_ n: Int) -> String { StatusTable.grouped(n) }

    /// Hours with one decimal (two below 0.1 and three below 0.01, so a short claim does not read as nothing):
    /// `3.2`, `0.04`, `0.003`.
    public static func hours(_ h: Double) -> String {
        guard h.isFinite else { return "0" }
        let h: Double = min(max(h, 0), UsageLedger.maxReplicaSeconds / 3600)   // a status holds what anyone allowed to write it wrote
        let digits = h > 0 && h < 0.01 ? 3 : (h > 0 && h < 0.1 ? 2 : 1)
        let scale = digits == 3 ? 1000.0 : (digits == 2 ? 100.0 : 10.0)
        let r = (h * scale).rounded() / scale
        let whole = Int(r)
        let fraction = Int(((r - Double(whole)) * scale).rounded())
        let f = String(fraction)
        return "\(count(whole)).\(String(repeating: "0", count: max(0, digits - f.count)))\(f)"
    }

    /// `1,204 tasks, 3.2 replica-hours`.
    public static func summary(_ u: ClaimUsage) -> String {
        "\(count(u.tasksCompleted)) task\(u.tasksCompleted == 1 ? "" : "s"), \(hours(u.replicaHours)) replica-hours"
    }

    /// ` So far alice used 3.2 replica-hours on batch1, ...` for reminders about `r`, or "" when the ledger has no
    /// usage of that claim.
    public static func soFar(_ status: BatchQueueStatus?, reservation r: Reservation, queue: String) -> String {
        guard let u = status?.usage?.current, u.holder == r.holder, u.claimedAt == r.claimedAt else { return "" }
        return " So far " + sentence(u, queue: queue) + "."
    }

    /// `alice used 3.2 replica-hours on batch1, 0.4 of them idle, 1,204 tasks`.
    public static func sentence(_ u: ClaimUsage, queue: String) -> String {
        "\(u.holder) used \(hours(u.replicaHours)) replica-hours on \(queue), \(hours(u.idleReplicaHours)) of them idle, \(count(u.tasksCompleted)) task\(u.tasksCompleted == 1 ? "" : "s") completed"
    }
}

extension UsageLedger {
    /// A change that must be written at once, not at the next status interval: a claim opened or closed, the
    /// number of running pods changed, or (when the queue has no work, so `drain` waits for it) the tasks
    /// completed changed.
    public static func mustWrite(from old: UsageLedger?, to new: UsageLedger?, queueIdle: Bool = false) -> Bool {
        (queueIdle && old?.latest?.tasksCompleted != new?.latest?.tasksCompleted)
            || old?.running != new?.running || old?.current?.claimedAt != new?.current?.claimedAt
            || old?.current?.holder != new?.current?.holder || old?.history?.count != new?.history?.count
            || old?.history?.last?.endedAt != new?.history?.last?.endedAt
    }
}
