import BatchCore

/// What `batchctl drain` knows at one moment, from the BatchQueue alone (the controller's status carries depth,
/// in-flight, busy workers and the usage ledger's completed tasks): no Redis access on the user's machine.
public struct DrainProgress: Sendable, Hashable {
    public var queue: String
    /// Tasks completed since the drain started (the ledger's count for the claim).
    public var done: Int
    /// Queued plus in-flight tasks.
    public var remaining: Int
    public var busyWorkers: Int
    /// Worker replicas running (ready).
    public var workers: Int
    /// Tasks completed per minute since the drain started, or nil before the first one.
    public var ratePerMinute: Double?
    /// Seconds until `remaining` is done at `ratePerMinute`, or nil when unknown.
    public var etaSeconds: Int64?
    /// Depth, in-flight and busy workers are all zero (and the queue was seen empty long enough, see `DrainTracker`).
    public var drained: Bool

    /// `done + remaining` (saturating: the numbers come from an object anyone with write access could fill).
    public var total: Int {
        let (sum, overflow) = done.addingReportingOverflow(remaining)
        return overflow ? Int.max : sum
    }

    /// What a new line (or JSON object) is printed for: the counts, not the rate and ETA recomputed each read.
    public var counts: [Int] { [done, remaining, busyWorkers, workers, drained ? 1 : 0] }

    /// `[########------------] 120/200  60%  34.0/min  ETA 2 min  3 workers`, `width` cells of bar.
    public func bar(width: Int = 24) -> String {
        let fraction = total > 0 ? Double(done) / Double(total) : (drained ? 1 : 0)
        let filled = min(width, max(0, Int((fraction * Double(width)).rounded(.down))))
        let bar = "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "]"
        return "\(queue) \(bar) \(UsageText.count(done))/\(UsageText.count(total))  \(Int((fraction * 100).rounded(.down)))%  \(rateText)  ETA \(etaText)  \(workers) worker\(workers == 1 ? "" : "s")"
    }

    /// `batch1: 120 done, 80 remaining (depth+in-flight), 2 busy, 3 workers, 34.0/min, ETA 2 min`.
    public var line: String {
        "\(queue): \(UsageText.count(done)) done, \(UsageText.count(remaining)) remaining, \(busyWorkers) busy, \(workers) worker\(workers == 1 ? "" : "s"), \(rateText), ETA \(etaText)\(drained ? ", drained" : "")"
    }

    /// One JSON object (one line), fields in a fixed order.
    public var json: String {
        let rate = ratePerMinute.map { String((($0 * 10).rounded()) / 10) } ?? "null"
        let eta = etaSeconds.map(String.init) ?? "null"
        return #"{"queue":"\#(queue)","done":\#(done),"remaining":\#(remaining),"total":\#(total),"busyWorkers":\#(busyWorkers),"workers":\#(workers),"ratePerMinute":\#(rate),"etaSeconds":\#(eta),"drained":\#(drained)}"#
    }

    var rateText: String { ratePerMinute.map { "\(String(($0 * 10).rounded() / 10))/min" } ?? "-/min" }
    var etaText: String {
        if drained { return "0 s" }
        return etaSeconds.map { TimeText.span(seconds: $0) } ?? "?"
    }
}

/// Follows one queue's BatchQueue for `drain`: the baseline of completed tasks when it started, the rate since.
public struct DrainTracker: Sendable {
    public let queue: String
    public let startedAt: KubeTime
    /// The queue counts as drained once it has read empty for this long: Celery workers report running tasks
    /// and completed counts in heartbeats (every 2 s by default), so an empty reading can come a heartbeat early,
    /// and a queue empty when the drain starts may just not show the tasks sent a moment ago yet.
    public let settle: TimeSpan
    var baseline: (holder: String, claimedAt: KubeTime, tasks: Int)?
    var emptySince: KubeTime?
    /// When the completed count last rose (the rate is measured up to then, so it holds while the queue settles).
    var lastDone: (count: Int, at: KubeTime)?

    public init(queue: String, startedAt: KubeTime, settle: TimeSpan = .seconds(5)) {
        self.queue = queue
        self.startedAt = startedAt
        self.settle = settle
    }

    /// The progress `q` shows at `now`.
    public mutating func progress(_ q: BatchQueue, now: KubeTime) -> DrainProgress {
        let s = q.status ?? BatchQueueStatus()
        let claim = s.usage?.latest
        if let c = claim {
            if baseline == nil || baseline?.holder != c.holder || baseline?.claimedAt != c.claimedAt {
                // The first reading, or a new claim (its count starts at zero).
                baseline = (c.holder, c.claimedAt, baseline == nil ? c.tasksCompleted : 0)
            }
        }
        let (difference, overflow) = (claim?.tasksCompleted ?? 0).subtractingReportingOverflow(baseline?.tasks ?? 0)
        let done = overflow ? 0 : max(0, difference)
        let depth = max(0, s.depth ?? 0)
        let inFlight = max(0, s.inFlight ?? 0)
        let busy = max(0, s.busyWorkers ?? 0)
        let known = s.depth != nil && s.inFlight != nil
        let empty = known && depth == 0 && inFlight == 0 && busy == 0
        emptySince = empty ? (emptySince ?? now) : nil
        let elapsed = max(0, now.microsecondsSinceEpoch - startedAt.microsecondsSinceEpoch)
        let settled = emptySince.map { now.microsecondsSinceEpoch - $0.microsecondsSinceEpoch >= settle.milliseconds * 1000 } ?? false
        let remaining = depth.addingReportingOverflow(inFlight).overflow ? Int.max : depth + inFlight
        var rate: Double?
        var eta: Int64?
        if done != lastDone?.count { lastDone = (done, now) }
        let measured = max(0, (lastDone?.at ?? now).microsecondsSinceEpoch - startedAt.microsecondsSinceEpoch)
        if done > 0, elapsed > 0, measured > 0 {
            let perMinute = Double(done) / (Double(measured) / 60_000_000)
            rate = perMinute
            eta = Int64(min(Double(Int64.max / 2), (Double(remaining) / perMinute * 60).rounded(.up)))
        }
        return DrainProgress(queue: queue, done: done, remaining: remaining, busyWorkers: busy,
                             workers: max(0, s.readyReplicas ?? s.replicas ?? 0), ratePerMinute: rate, etaSeconds: eta,
                             drained: empty && settled)
    }
}
