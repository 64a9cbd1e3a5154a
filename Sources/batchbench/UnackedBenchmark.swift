import BatchCore
import BatchTesting
import CeleryRedis
import Foundation

/// The probe against a large `unacked`: 100,000 delivered messages of 1.5 KB (about 150 MB in Redis, a
/// normal count for an app with countdown/ETA tasks), as kombu's `QoS.append` writes them (hash value
/// plus `unacked_index` score). Measures the first pass after a start, the steady state (nothing changed,
/// and 10 acks + 10 deliveries since the last pass), the peak RSS of `batchctl probe` reading it from
/// nothing, how far Redis' `used_memory_peak` rises while it is read, and the controller's RSS with that
/// load for `controllerSeconds` (BATCHBENCH_CONTROLLER_SECONDS, default 600).
struct UnackedBenchmark: Benchmark {
    let name = "unacked"
    let summary = "probe and controller with 100,000 unacked entries of 1.5 KB (first pass, steady state, RSS, Redis peak growth)"
    var entries = 100_000
    var valueBytes = 1536
    var controllerSeconds: Int = ProcessInfo.processInfo.environment["BATCHBENCH_CONTROLLER_SECONDS"].flatMap { Int($0) } ?? 600

    static let queues = ["batch0", "batch1", "batch2", "batch3"]

    func run() async throws -> [Figure] {
        var figures: [Figure] = []
        let data = "\(entries / 1000)k × \(valueBytes) B"
        let server = try RedisServer()
        defer { server.stop() }
        let options = RedisConnectionOptions(url: RedisURL(endpoint: .tcp(host: "127.0.0.1", port: server.port)))
        let setup = RedisClient(options: options)
        defer { setup.close() }
        let baseTime = Date().timeIntervalSince1970 - 3600
        try await Self.load(setup, count: entries, valueBytes: valueBytes, from: baseTime, queues: Self.queues)
        let peakBefore = try Self.info(port: server.port, "used_memory_peak")
        let usedBefore = try Self.info(port: server.port, "used_memory")

        // First pass after a start: a new probe reads the whole index in bounded pages.
        var firstTimes: [Duration] = []
        var passes = 0, trips = 0
        let clock = ContinuousClock()
        var probe: QueueProbe?
        for _ in 0..<3 {
            probe?.client.close()
            let p = QueueProbe(client: RedisClient(options: options), layout: .default, queues: Self.queues)
            probe = p
            let start = clock.now
            var r = try await p.observe()
            passes = 1
            while r.unacked.pending != nil && passes < 100 {
                r = try await p.observe()
                passes += 1
            }
            firstTimes.append(clock.now - start)
            trips = p.client.stats.roundTrips
            guard r.unacked.entries == entries, r.queues.map({ $0.inFlight ?? -1 }).reduce(0, +) == entries else {
                throw BenchError("first pass counted \(r.unacked) \(r.queues.map(\.inFlight)) instead of \(entries)")
            }
        }
        guard let probe else { throw BenchError("no probe") }
        defer { probe.client.close() }
        let first = try Percentiles(firstTimes)
        figures.append(Figure(name: "unacked \(data): first pass after a start", median: first.median, p90: first.p90, runs: firstTimes.count,
                              notes: "fresh probe each run; \(passes) pass\(passes == 1 ? "" : "es") (budget 200,000 entries a pass), \(trips) round trips of ≤ 1,000 values (HMGET pages)"))

        // Steady state, nothing changed.
        let runs = 300
        let tripsBefore = probe.client.stats.roundTrips
        let commandsBefore = try Self.info(port: server.port, "total_commands_processed", section: "stats")
        let steady = try await measure(runs: runs, warmup: 30) { _ = try await probe.observe() }
        let perProbe = Double(probe.client.stats.roundTrips - tripsBefore) / Double(runs + 30)
        let commands = Double(try Self.info(port: server.port, "total_commands_processed", section: "stats") - commandsBefore - 1) / Double(runs + 30)
        figures.append(Figure(name: "unacked \(data): steady-state probe, nothing changed", median: steady.median, p90: steady.p90, runs: runs,
                              notes: String(format: "%.0f round trip(s) per probe; %.0f commands per probe (16 LLEN, HLEN, ZCARD, 2 ZRANGEBYSCORE (from the watermark; a 250-tag window), 1 ZCOUNT per 1,000 entries, INFO); target ≤ 5 ms", perProbe, commands)))

        // Steady state with churn: 10 acks and 10 deliveries since the last pass (not timed: the writes).
        var churn: [Duration] = []
        var churnTrips = 0
        let tags = try await Self.someTags(setup, count: 100 * 10)
        for round in 0..<100 {
            var writes: [[[UInt8]]] = []
            for k in 0..<10 {
                let tag = tags[round * 10 + k]
                writes += [[b("HDEL"), b("unacked"), b(tag)], [b("ZREM"), b("unacked_index"), b(tag)]]
                let newTag = UUID().uuidString.lowercased()
                writes += Self.delivery(tag: newTag, queue: Self.queues[k % 4], score: Date().timeIntervalSince1970, valueBytes: valueBytes)
            }
            _ = try await setup.pipeline(writes)
            let before = probe.client.stats.roundTrips
            let start = clock.now
            let r = try await probe.observe()
            churn.append(clock.now - start)
            churnTrips = probe.client.stats.roundTrips - before
            guard r.unacked.entries == entries else { throw BenchError("churn: counted \(r.unacked.entries) instead of \(entries)") }
        }
        let c = try Percentiles(churn)
        figures.append(Figure(name: "unacked \(data): probe after 10 acks + 10 deliveries", median: c.median, p90: c.p90, runs: churn.count,
                              notes: "\(churnTrips) round trips (block; HMGET of the 10 new values + ZRANGEBYSCORE of the changed chunks; HMGET of any unknown)"))

        // Peak RSS of a process that probes this from nothing: `batchctl probe --listen 0s`.
        var rss: [Double] = []
        for _ in 0..<3 {
            let r = try Command.run("/usr/bin/time", ["-f", "maxrss=%M", ProjectPaths.product("batchctl"), "probe", "--redis-url", server.url,
                                                      "--listen", "0s", "-o", "json"], environment: ["BATCHCTL_CONFIG": ""])
            guard r.status == 0, let line = r.stderr.split(separator: "\n").last(where: { $0.hasPrefix("maxrss=") }),
                  let kb = Double(line.dropFirst("maxrss=".count)) else {
                throw BenchError("batchctl probe failed (\(r.status)): \(r.stderr.suffix(500))")
            }
            rss.append(kb / 1024)
        }
        let rp = try Percentiles(rss)
        figures.append(Figure(name: "unacked \(data): peak RSS of `batchctl probe`", medianText: String(format: "%.1f MiB", rp.median),
                              p90Text: String(format: "%.1f MiB", rp.p90), runs: rss.count,
                              notes: "release build; `/usr/bin/time -f %M` (max RSS) of `batchctl probe --listen 0s` reading the whole index from nothing; target ≤ 40 MiB"))

        let peakAfter = try Self.info(port: server.port, "used_memory_peak")
        let growth = Double(max(0, peakAfter - peakBefore)) / 1_048_576
        figures.append(Figure(name: "unacked \(data): growth of Redis used_memory_peak", medianText: String(format: "%.1f MiB", growth),
                              p90Text: String(format: "%.1f MiB", growth), runs: 1,
                              notes: String(format: "over every probe above (first passes, steady state, churn, `batchctl probe` runs); used_memory after loading %.0f MiB; target ≤ 5 MiB", Double(usedBefore) / 1_048_576)))

        figures.append(try await controllerUnderLoad(data: data))
        return figures
    }

    /// The controller (1 s polls, the four queues, one claimed) with the same load, sampled every 10 s.
    func controllerUnderLoad(data: String) async throws -> Figure {
        let h = try ControllerHarness(config: "pollInterval: 1s\nidleAfter: 1m")
        defer { h.stop() }
        let setup = RedisClient(options: RedisConnectionOptions(url: RedisURL(endpoint: .tcp(host: "127.0.0.1", port: h.redis.port))))
        defer { setup.close() }
        try await Self.load(setup, count: entries, valueBytes: valueBytes, from: Date().timeIntervalSince1970 - 3600, queues: Self.queues)
        let controller = try h.startController()
        try h.claim("batch1", replicas: 2)
        let memory = ControllerMemoryBenchmark()
        let start = Date()
        var samples: [Double] = []
        var round = 0
        while Date().timeIntervalSince(start) < Double(controllerSeconds) {
            try await Task.sleep(for: .seconds(10))
            guard controller.isRunning else { throw BenchError("the controller exited: \(controller.stderr.suffix(2000))") }
            // Churn: a few acks and deliveries, as workers would make.
            var writes: [[[UInt8]]] = []
            for k in 0..<5 {
                writes += Self.delivery(tag: "churn-\(round)-\(k)", queue: Self.queues[k % 4], score: Date().timeIntervalSince1970, valueBytes: valueBytes)
                if round > 0 { writes += [[b("HDEL"), b("unacked"), b("churn-\(round - 1)-\(k)")], [b("ZREM"), b("unacked_index"), b("churn-\(round - 1)-\(k)")]] }
            }
            _ = try await setup.pipeline(writes)
            samples.append(try memory.rssMiB(controller.pid))
            round += 1
        }
        let inFlight = try h.queueObject("batch1").status?.inFlight
        // 25,000 loaded for batch1, plus the one churn delivery of the last round (a pass may lag).
        guard let inFlight, abs(inFlight - entries / 4) <= 1 else {
            throw BenchError("the controller reported inFlight \(String(describing: inFlight)) for batch1")
        }
        let peak = try memory.hwmMiB(controller.pid)
        let p = try Percentiles(samples)
        let minutes = String(format: "%.1f", Double(controllerSeconds) / 60)
        return Figure(name: "controller RSS with unacked \(data), \(minutes) min", medianText: String(format: "%.1f MiB", p.median),
                      p90Text: String(format: "%.1f MiB", p.p90), runs: samples.count,
                      notes: String(format: "release build, static Swift stdlib; 1 s polls, batch1 claimed, 5 acks + 5 deliveries every 10 s; peak (VmHWM) %.1f MiB; batch1 inFlight %d; limit 96 MiB (deploy/base/controller.yaml)", peak, inFlight))
    }

    /// What kombu's `QoS.append` writes for one delivery (hash value padded to `valueBytes`, index score).
    static func delivery(tag: String, queue: String, score: Double, valueBytes: Int) -> [[[UInt8]]] {
        let head = #"[{"body": "W1syLCAwXSwge30sIHsiY2FsbGJhY2tzIjogbnVsbH1d", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"lang": "py", "task": "app.tasks.rehash_password", "id": "\#(tag)", "eta": "2026-12-06T12:00:00+00:00", "retries": 0, "argsrepr": ""#
        let tail = #"", "kwargsrepr": "{}"}, "properties": {"delivery_mode": 2, "delivery_info": {"exchange": "", "routing_key": "\#(queue)"}, "priority": 0, "body_encoding": "base64", "delivery_tag": "\#(tag)"}}, "", "\#(queue)"]"#
        let pad = String(repeating: "x", count: max(0, valueBytes - head.utf8.count - tail.utf8.count))
        return [[b("ZADD"), b("unacked_index"), b("\(score)"), b(tag)], [b("HSET"), b("unacked"), b(tag), b(head + pad + tail)]]
    }

    /// Loads `count` deliveries spread over the queues and over an hour of delivery times, 500 at a time.
    static func load(_ client: RedisClient, count: Int, valueBytes: Int, from start: Double, queues: [String]) async throws {
        var k = 0
        while k < count {
            var commands: [[[UInt8]]] = []
            for i in k..<min(k + 500, count) {
                commands += delivery(tag: UUID().uuidString.lowercased(), queue: queues[i % queues.count],
                                     score: start + Double(i) * 3600 / Double(count), valueBytes: valueBytes)
            }
            let replies = try await client.pipeline(commands)
            if let error = replies.first(where: { $0.errorMessage != nil }) { throw BenchError("loading failed: \(error)") }
            k += 500
        }
    }

    /// The oldest `count` tags of the index.
    static func someTags(_ client: RedisClient, count: Int) async throws -> [String] {
        let r = try await client.pipeline([[b("ZRANGE"), b("unacked_index"), b("0"), b(String(count - 1))]])
        return (r.first?.array ?? []).compactMap(\.text)
    }

    /// A numeric field of `INFO <section>` read through redis-cli (the probe's counters stay untouched).
    static func info(port: Int, _ field: String, section: String = "memory") throws -> Int {
        let r = try Command.run("/usr/bin/redis-cli", ["-p", "\(port)", "INFO", section])
        for line in r.stdout.split(whereSeparator: \.isNewline) where line.hasPrefix(field + ":") {
            if let n = Int(line.dropFirst(field.count + 1)) { return n }
        }
        throw BenchError("no \(field) in INFO \(section): \(r.stderr)")
    }
}

@inline(__always) func b(_ s: String) -> [UInt8] { Array(s.utf8) }
