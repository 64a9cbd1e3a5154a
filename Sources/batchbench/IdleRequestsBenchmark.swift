import BatchTesting
import Foundation

/// What an idle controller asks of the API server: `batchctl controller` (release, poll interval 1 s)
/// with the four queues of deploy/, nothing claimed and no tasks, counted from KubeSim's request log
/// minute by minute; then the same with a standby replica, as deploy/ runs it.
struct IdleRequestsBenchmark: Benchmark {
    let name = "idle-requests"
    let summary = "API requests per idle minute of the controller, alone and with a standby, by kind (about 8 minutes)"
    /// Minutes counted with the leader alone, then with a standby too.
    var leaderMinutes = 5
    var standbyMinutes = 2

    func run() async throws -> [Figure] {
        let h = try ControllerHarness(config: "pollInterval: 1s")
        defer { h.stop() }
        try h.startController()
        try settle(h)
        var figures = [try count(h, minutes: leaderMinutes, name: "API requests per idle minute, 4 queues")]
        try h.startController()   // a second replica: it finds the Lease held and stands by
        try settle(h)
        figures.append(try count(h, minutes: standbyMinutes, name: "API requests per idle minute, 4 queues, leader + standby"))
        return figures
    }

    /// Waits until every queue has a status (the first passes write it) and a few quiet passes followed.
    func settle(_ h: ControllerHarness) throws {
        let metric = #"batchctl_reconcile_total{result="ok"}"#
        guard Wait.until(timeout: .seconds(60), { (0..<4).allSatisfy { h.phase("batch\($0)") == "Free" } }) else {
            throw BenchError("the queues did not become Free")
        }
        let passes = h.metric(metric) ?? 0
        guard Wait.until(timeout: .seconds(60), { (h.metric(metric) ?? 0) >= passes + 10 }) else {
            throw BenchError("the controller did not keep reconciling")
        }
    }

    /// Clears KubeSim's request log, waits `minutes` without touching the API, and counts.
    func count(_ h: ControllerHarness, minutes: Int, name: String) throws -> Figure {
        struct Stats: Decodable { var watches: Int? }
        let openWatches = try h.sim.curl("GET", "/kubesim/stats").decoded(Stats.self)?.watches
        try h.sim.clearRequests()
        let start = Date()
        Thread.sleep(forTimeInterval: Double(minutes * 60) + 1)
        let records = try h.sim.requests()
        let windows = RequestTally.windows(records, from: start, length: 60, count: minutes)
        let perMinute = windows.map(\.count)
        let p = try Percentiles(perMinute)
        let all = RequestTally(windows.flatMap { $0 })
        let unexpected = windows.flatMap { $0 }.filter { $0.isWrite && $0.kind != .leaseWrite }
        var notes = "per minute: \(perMinute.map(String.init).joined(separator: ", ")); in all \(all.total): \(all.summary)"
        if let openWatches { notes += "; watch streams open at the start: \(openWatches) (KubeSim)" }
        if unexpected.isEmpty {
            notes += "; no other writes"
        } else {
            let shown = unexpected.prefix(5).map { "\($0.method) \($0.path) at \($0.time)" }.joined(separator: ", ")
            notes += "; OTHER WRITES: \(unexpected.count) (\(shown))"
        }
        print("\(name): \(notes)")
        return Figure(name: name, medianText: "\(p.median) requests", p90Text: "\(p.p90) requests", runs: perMinute.count, notes: notes)
    }
}
