import BatchTesting
import Foundation

/// The controller as deployed: the release `batchctl controller` against KubeSim and a real
/// redis-server (poll interval 1 s, the default). Latencies are taken from KubeSim's request log
/// (server-side timestamps of the claim write and of the /scale write), CPU and memory from /proc.
struct ControllerBenchmark: Benchmark {
    let name = "controller"
    let summary = "claim → scale and wake → scale latency; reconcile CPU per pass, 4/100/1,000 queues (a few minutes)"

    func run() async throws -> [Figure] {
        var figures: [Figure] = []
        figures += try latencies()
        for n in [4, 100, 1000] { figures.append(try cpuPerPass(queues: n)) }
        return figures
    }

    /// Claim → first scale write, and a new task on a sleeping queue → scale write.
    func latencies() throws -> [Figure] {
        let h = try ControllerHarness(config: "pollInterval: 1s\nidleAfter: 2s\nrampUp: {step: 2, every: 30s}")
        defer { h.stop() }
        try h.startController()
        var claimToScale: [Double] = []
        var wakeToScale: [Double] = []
        for i in 0..<7 {
            let queue = "batch\(i % 4)", deployment = "celery-batch\(i % 4)"
            try h.redis.cli(["LPUSH", queue, "task"])
            try h.sim.clearRequests()
            try h.claim(queue, replicas: 2)
            guard Wait.until(timeout: .seconds(20), { h.replicas(deployment) == 2 }) else { throw SupportError("no scale-up after a claim") }
            let log = try h.sim.requests()
            guard let claimed = log.first(where: { $0.method == "PATCH" && $0.path.hasSuffix("/batchqueues/\(queue)") && $0.status == 200 }),
                  let scaled = log.first(where: { $0.method == "PATCH" && $0.path.hasSuffix("/\(deployment)/scale") && $0.status == 200 }) else {
                throw SupportError("claim or scale write missing from the request log")
            }
            claimToScale.append(try seconds(from: claimed.time, to: scaled.time))
            // Drain, let it sleep, then one task wakes it.
            try h.redis.cli(["DEL", queue])
            guard Wait.until(timeout: .seconds(30), { h.phase(queue) == "Sleeping" && h.replicas(deployment) == 0 }) else {
                throw SupportError("queue did not sleep")
            }
            try h.sim.clearRequests()
            let sent = Date()
            try h.redis.cli(["LPUSH", queue, "task"])
            guard Wait.until(timeout: .seconds(20), { h.replicas(deployment) == 2 }) else { throw SupportError("no wake-up") }
            guard let woke = try h.sim.requests().first(where: { $0.method == "PATCH" && $0.path.hasSuffix("/\(deployment)/scale") && $0.status == 200 }) else {
                throw SupportError("wake scale write missing")
            }
            wakeToScale.append(try parse(woke.time).timeIntervalSince(sent))
            try h.release(queue)
            try h.redis.cli(["DEL", queue])
            _ = Wait.until(timeout: .seconds(20)) { h.replicas(deployment) == 0 }
        }
        let c = try Percentiles(claimToScale), w = try Percentiles(wakeToScale)
        return [
            Figure(name: "claim → first scale write", medianText: ms(c.median), p90Text: ms(c.p90), runs: claimToScale.count,
                   notes: "poll interval 1 s; server-side times of the claim PATCH and the /scale PATCH; target < 1 s"),
            Figure(name: "new task on a sleeping queue → scale write", medianText: ms(w.median), p90Text: ms(w.p90), runs: wakeToScale.count,
                   notes: "poll interval 1 s; from LPUSH to the /scale PATCH; target < poll interval + 0.5 s"),
        ]
    }

    /// CPU time of the controller process per reconcile pass with nothing changing.
    func cpuPerPass(queues n: Int) throws -> Figure {
        let h = try ControllerHarness(config: "pollInterval: 200ms", queueCount: n)
        defer { h.stop() }
        let controller = try h.startController()
        let metric = #"batchctl_reconcile_total{result="ok"}"#
        guard Wait.until(timeout: .seconds(120), { (h.metric(metric) ?? 0) >= 10 }) else { throw SupportError("the controller did not settle with \(n) queues") }
        Thread.sleep(forTimeInterval: 6)      // past the status write interval
        var samples: [Double] = []
        for _ in 0..<5 {
            let passes0 = h.metric(metric) ?? 0, cpu0 = try cpuSeconds(controller.pid)
            _ = Wait.until(timeout: .seconds(60), interval: .milliseconds(100)) { (h.metric(metric) ?? 0) >= passes0 + 20 }
            let passes1 = h.metric(metric) ?? 0, cpu1 = try cpuSeconds(controller.pid)
            samples.append((cpu1 - cpu0) / max(1, passes1 - passes0))
        }
        let p = try Percentiles(samples)
        return Figure(name: "reconcile CPU per pass, \(n) queues", medianText: ms(p.median), p90Text: ms(p.p90), runs: samples.count,
                      notes: "controller process user+system CPU over 20 quiet passes (poll 200 ms, Lease renewals included), from /proc")
    }

    func cpuSeconds(_ pid: Int32) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return (Double(fields[11]) ?? 0) / ticks + (Double(fields[12]) ?? 0) / ticks
    }

    func seconds(from a: String, to b: String) throws -> Double { try parse(b).timeIntervalSince(parse(a)) }

    func parse(_ time: String) throws -> Date {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let d = f.date(from: time) else { throw SupportError("bad time \(time)") }
        return d
    }

    func ms(_ s: Double) -> String { String(format: "%.0f ms", s * 1000) }
}

/// Resident memory of a controller running 10 minutes with activity on its queues.
struct ControllerMemoryBenchmark: Benchmark {
    let name = "controller-rss"
    let summary = "controller RSS after 10 minutes of claims, tasks and releases (10 minutes)"

    func run() async throws -> [Figure] {
        let h = try ControllerHarness(config: "pollInterval: 1s\nidleAfter: 1m")
        defer { h.stop() }
        // As the image runs it: with the Dockerfile's runtime ENV (GNUTLS_NO_IMPLICIT_INIT, BENCHMARKS.md).
        let controller = try h.startController(environment: try ImageEnvironment.runtime())
        try h.redis.cli(["LPUSH", "batch2", "task"])
        let start = Date()
        var samples: [Double] = []
        var round = 0
        while Date().timeIntervalSince(start) < 600 {
            // Some churn: claims, work, releases, so caches, watches and status writes all run.
            let queue = "batch\(round % 2)"
            try h.claim(queue, replicas: 2)
            try h.redis.cli(["LPUSH", queue, "task"])
            try await Task.sleep(for: .seconds(20))
            try h.redis.cli(["DEL", queue])
            try h.release(queue)
            try await Task.sleep(for: .seconds(10))
            samples.append(try rssMiB(controller.pid))
            round += 1
        }
        let final = try rssMiB(controller.pid), peak = try hwmMiB(controller.pid)
        let anon = try status(controller.pid, "RssAnon:")
        let parts = try residentByMapping(controller.pid)
        let breakdown = parts.prefix(5).map { "\($0.name) " + String(format: "%.1f", $0.mib) }.joined(separator: ", ")
        return [Figure(name: "controller RSS after 10 minutes", medianText: String(format: "%.1f MiB", final),
                       p90Text: String(format: "%.1f MiB", try Percentiles(samples).p90), runs: 1,
                       notes: String(format: "release build, static Swift stdlib, the image's environment; peak (VmHWM) %.1f MiB; samples every 30 s with claims, tasks and releases; anonymous (heap, stacks) %.1f MiB; ", peak, anon)
                           + "resident by mapping, MiB: \(breakdown); target < 25 MiB")]
    }

    func rssMiB(_ pid: Int32) throws -> Double { try status(pid, "VmRSS:") }

    /// Resident memory per mapped file (the binary, each shared library) and anonymous memory, largest first,
    /// from /proc/PID/smaps.
    func residentByMapping(_ pid: Int32) throws -> [(name: String, mib: Double)] {
        // /proc files report size 0: read them to the end rather than by their size.
        guard let data = FileHandle(forReadingAtPath: "/proc/\(pid)/smaps")?.readDataToEndOfFile() else {
            throw SupportError("cannot read /proc/\(pid)/smaps")
        }
        let text = String(decoding: data, as: UTF8.self)
        var kb: [String: Double] = [:]
        var current = "anonymous"
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), first.allSatisfy({ $0.isHexDigit || $0 == "-" }) {
                current = fields.count >= 6 ? String(fields[5].split(separator: "/").last ?? "") : "anonymous"
                if current.hasPrefix("[") { current = "anonymous" }
            } else if fields.first == "Rss:", fields.count >= 2, let v = Double(fields[1]) {
                kb[current, default: 0] += v
            }
        }
        return kb.map { (name: $0.key, mib: $0.value / 1024) }.sorted { $0.mib > $1.mib }
    }
    func hwmMiB(_ pid: Int32) throws -> Double { try status(pid, "VmHWM:") }

    func status(_ pid: Int32, _ key: String) throws -> Double {
        let text = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key) }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { throw SupportError("no \(key) for \(pid)") }
        return kb / 1024
    }
}
