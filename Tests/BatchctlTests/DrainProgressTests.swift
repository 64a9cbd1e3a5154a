import BatchCore
import BatchctlKit
import Testing

/// `batchctl drain`'s progress, from BatchQueue readings alone.
@Suite struct DrainProgressTests {
    static let t0 = KubeTime(secondsSinceEpoch: 1_800_000_000)
    static func at(_ s: Int64) -> KubeTime { KubeTime(secondsSinceEpoch: t0.secondsSinceEpoch + s) }

    static func queue(depth: Int?, inFlight: Int?, busy: Int?, done: Int, workers: Int = 2, holder: String = "alice") -> BatchQueue {
        var s = BatchQueueStatus(depth: depth, inFlight: inFlight, busyWorkers: busy, replicas: workers, readyReplicas: workers)
        s.usage = UsageLedger(current: ClaimUsage(holder: holder, claimedAt: t0, tasksCompleted: done))
        return BatchQueue(metadata: ObjectMeta(name: "batch1"), spec: BatchQueueSpec(deployment: "celery-batch1"), status: s)
    }

    @Test("done counts from the drain's start; rate and ETA follow; drained only when depth, in-flight and busy are zero")
    func progress() {
        var t = DrainTracker(queue: "batch1", startedAt: Self.t0)
        let first = t.progress(Self.queue(depth: 150, inFlight: 2, busy: 2, done: 48), now: Self.t0)
        #expect(first.done == 0 && first.remaining == 152 && first.total == 152 && !first.drained)
        #expect(first.ratePerMinute == nil && first.etaSeconds == nil)
        let mid = t.progress(Self.queue(depth: 58, inFlight: 2, busy: 2, done: 140), now: Self.at(60))
        #expect(mid.done == 92 && mid.remaining == 60 && mid.ratePerMinute == 92 && mid.etaSeconds == 40)
        #expect(mid.line == "batch1: 92 done, 60 remaining, 2 busy, 2 workers, 92.0/min, ETA 40 s")
        #expect(mid.bar(width: 10) == "batch1 [######----] 92/152  60%  92.0/min  ETA 40 s  2 workers")
        #expect(mid.json == #"{"queue":"batch1","done":92,"remaining":60,"total":152,"busyWorkers":2,"workers":2,"ratePerMinute":92.0,"etaSeconds":40,"drained":false}"#)
        #expect(!t.progress(Self.queue(depth: 0, inFlight: 0, busy: 1, done: 199), now: Self.at(90)).drained)   // a task still runs
        #expect(!t.progress(Self.queue(depth: 0, inFlight: 0, busy: 0, done: 199), now: Self.at(91)).drained)   // empty, not yet for 5 s
        #expect(!t.progress(Self.queue(depth: 0, inFlight: 0, busy: 1, done: 199), now: Self.at(93)).drained)   // a heartbeat late: busy
        #expect(!t.progress(Self.queue(depth: 0, inFlight: 0, busy: 0, done: 200), now: Self.at(94)).drained)
        let end = t.progress(Self.queue(depth: 0, inFlight: 0, busy: 0, done: 200), now: Self.at(99))
        #expect(end.drained && end.done == 152 && end.remaining == 0)
        #expect(end.ratePerMinute == 152.0 / 94 * 60)          // measured up to the last completed task, not while settling
        #expect(end.line.hasSuffix(", drained"))
    }

    @Test("a queue empty from the start counts as drained only after the settle time; unknown status never does")
    func emptyFromTheStart() {
        var t = DrainTracker(queue: "batch1", startedAt: Self.t0, settle: .seconds(3))
        #expect(!t.progress(Self.queue(depth: 0, inFlight: 0, busy: 0, done: 7), now: Self.at(1)).drained)
        #expect(t.progress(Self.queue(depth: 0, inFlight: 0, busy: 0, done: 7), now: Self.at(4)).drained)
        var unknown = DrainTracker(queue: "batch1", startedAt: Self.t0)
        #expect(!unknown.progress(Self.queue(depth: nil, inFlight: nil, busy: nil, done: 0), now: Self.at(60)).drained)
    }

    @Test("hostile numbers in the status: no overflow, no crash")
    func hostileStatus() {
        var t = DrainTracker(queue: "batch1", startedAt: Self.t0)
        _ = t.progress(Self.queue(depth: 0, inFlight: 0, busy: 0, done: Int.min), now: Self.t0)
        let p = t.progress(Self.queue(depth: Int.max, inFlight: Int.max, busy: Int.max, done: Int.max), now: Self.at(1))
        #expect(p.remaining == Int.max && p.total == Int.max && p.done == 0)
        #expect(!p.bar().isEmpty && !p.json.isEmpty && !p.line.isEmpty)
    }

    @Test("a new claim during the drain counts from zero")
    func newClaim() {
        var t = DrainTracker(queue: "batch1", startedAt: Self.t0)
        _ = t.progress(Self.queue(depth: 10, inFlight: 0, busy: 1, done: 500), now: Self.t0)
        #expect(t.progress(Self.queue(depth: 5, inFlight: 0, busy: 1, done: 5, holder: "bob"), now: Self.at(10)).done == 5)
    }
}
