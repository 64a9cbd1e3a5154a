import BatchTesting
import Foundation
import Testing

/// Debian's prometheus and prometheus-redis-exporter are installed (`make deps`).
private let prometheusInstalled = ["/usr/bin/prometheus", "/usr/bin/prometheus-redis-exporter"].allSatisfy {
    FileManager.default.isExecutableFile(atPath: $0)
}

/// Guarded ramp-up (issue 21) end to end: the built `batchctl controller`, KubeSim, a real redis-server with
/// Celery tasks waiting on batch1, and a real Prometheus scraping a real prometheus-redis-exporter every second.
/// No worker consumes the tasks (no kubelet), so the queue keeps its work and only the guards move the ramp.
/// Every wait is bounded by a condition.
@Suite(.serialized, .enabled(if: CeleryFixture.isAvailable && prometheusInstalled,
                             "needs the venv (make venv) and Debian's prometheus and prometheus-redis-exporter (make deps)"))
struct GuardIntegrationTests {
    /// The harness with the ramp given, Prometheus scraping its Redis, and (when `guards` is given) the guards in
    /// the BatchQueuePolicy and `prometheus.url` in the controller's configuration.
    func start(ramp: String, guards: ((PrometheusFixture, Double) -> String)?) throws -> (ControllerHarness, PrometheusFixture, Double) {
        let h = try ControllerHarness(config: "pollInterval: 500ms\nrampUp: \(ramp)")
        let p: PrometheusFixture
        do {
            p = try PrometheusFixture(redisPort: h.redis.port)
        } catch {
            h.stop()
            throw error
        }
        let baseline = try p.query("redis_memory_used_bytes").first ?? 0
        if let guards {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: h.configPath))
            handle.seekToEndOfFile()
            handle.write(Data("prometheus: {url: \"\(p.url)\", timeout: 2s}\n".utf8))
            try handle.close()
            try h.sim.kubectlOK(["patch", "batchqueuepolicy", "default", "-n", h.namespace, "--type", "merge", "-p", guards(p, baseline)])
        }
        return (h, p, baseline)
    }

    /// A Redis string of `bytes` bytes, made inside Redis (no argument that large on a command line).
    /// Starts the controller, claims batch1 for 6 replicas, sends it 40 tasks and waits until the ramp has
    /// reached `replicas`.
    func startRamp(_ h: ControllerHarness, reaching replicas: Int) throws {
        try h.startController()
        try h.claim("batch1", replicas: 6)
        #expect(Wait.until(timeout: .seconds(30)) { h.claimSeen("batch1") })
        #expect(try h.celery.produce(#"[{"queue": "batch1", "count": 40}]"#) == 40)
        #expect(Wait.until(timeout: .seconds(60)) { (h.replicas("celery-batch1") ?? 0) >= replicas })
    }

    func grow(_ h: ControllerHarness, bytes: Int) throws {
        try h.redis.cli(["EVAL", "redis.call('SET', KEYS[1], string.rep('x', tonumber(ARGV[1]))) return 1", "1", "guard-test-ballast", "\(bytes)"])
    }

    func guarded(_ h: ControllerHarness) -> (status: String?, reason: String?, message: String?) {
        let c = h.condition("batch1", "Guarded")
        return (c?.status, c?.reason, c?.message)
    }

    /// Indexes in `writes` where replicas went up.
    func stepUps(_ writes: [Int], from start: Int) -> [Int] {
        writes.indices.filter { $0 >= start && ($0 == 0 ? writes[0] > 0 : writes[$0] > writes[$0 - 1]) }
    }

    @Test("a guard on Redis memory: growing memory mid-ramp holds, then steps back; freeing it resumes the ramp to 6")
    func aFailingGuardHoldsStepsBackAndRecovers() throws {
        let (h, p, baseline) = try start(ramp: "{step: 1, every: 3s, stepBackAfter: 6s}") { _, baseline in
            // Healthy while Redis uses less than its memory at start + 20 MB.
            #"{"spec":{"guards":[{"name":"redis-memory","expr":"redis_memory_used_bytes < \#(Int(baseline) + 20_000_000)"}]}}"#
        }
        defer { p.stop(); h.stop() }
        try startRamp(h, reaching: 3)
        #expect(guarded(h).status == "False")

        // Mid-ramp: Redis grows by 40 MB, past the guard's threshold.
        let before = try h.scaleWrites("celery-batch1").count
        let grownAt = Date()
        try grow(h, bytes: 40_000_000)
        #expect(Wait.until(timeout: .seconds(20)) { (try? p.query("redis_memory_used_bytes").first).map { $0 > baseline + 20_000_000 } == true })
        #expect(Wait.until(timeout: .seconds(20)) { guarded(h).status == "True" })
        let tripped = try h.scaleWrites("celery-batch1")
        // Two scrapes (1 s each) and two polls (500 ms) are under one ramp interval (3 s): at most one step landed.
        #expect(stepUps(tripped, from: before).count <= 1, "\(tripped)")
        // Measured, not asserted: from the growth to the status write that holds the ramp (the controller writes
        // status at once when a guard changes state), from KubeSim's request log.
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let heldAt = try h.sim.requests().first {
            $0.isWrite && $0.path.hasSuffix("/batchqueues/batch1/status") && $0.status < 300 && ($0.body ?? "").contains("GuardFailing")
        }.flatMap { fractional.date(from: $0.time) }
        print("GuardIntegrationTests: Redis grown → ramp held (Guarded=True written) "
              + (heldAt.map { String(format: "%.2f s", $0.timeIntervalSince(grownAt)) } ?? "?")
              + " (bound: 2 scrapes of 1 s + 2 polls of 500 ms = 3.0 s)")
        let (_, reason, message) = guarded(h)
        #expect(reason == "GuardFailing")
        #expect(message?.contains("guard redis-memory is failing") == true, "\(message ?? "")")
        let peak = try #require(h.replicas("celery-batch1"))

        // Still failing after stepBackAfter (6 s): one replica off.
        #expect(Wait.until(timeout: .seconds(30)) { h.replicas("celery-batch1") == peak - 1 })
        let heldWrites = try h.scaleWrites("celery-batch1")
        #expect(stepUps(heldWrites, from: tripped.count).isEmpty, "no step up while the guard failed: \(heldWrites)")
        #expect(Wait.until(timeout: .seconds(10)) { (try? h.eventReasons("batch1"))?.contains("GuardTripped") == true })
        #expect((h.metric(#"batchctl_guard_holds_total{queue="batch1",guard="redis-memory"}"#) ?? 0) > 0)
        #expect(h.metric(#"batchctl_guard_healthy{guard="redis-memory"}"#) == 0)

        // Freed: the guard recovers and the ramp resumes to the claim's 6.
        try h.redis.cli(["DEL", "guard-test-ballast"])
        #expect(Wait.until(timeout: .seconds(60)) { h.replicas("celery-batch1") == 6 })
        let writes = try h.scaleWrites("celery-batch1")
        #expect(writes.last == 6)
        #expect(stepUps(writes, from: 0).allSatisfy { $0 < tripped.count || $0 >= heldWrites.count }, "step ups only before the trip and after recovery: \(writes)")
        #expect(guarded(h).status == "False")
        #expect(Wait.until(timeout: .seconds(10)) { (try? h.eventReasons("batch1"))?.contains("GuardRecovered") == true })
        #expect(h.metric(#"batchctl_guard_healthy{guard="redis-memory"}"#) == 1)
        let status = DrainIntegrationTests.rawQueue(h, "batch1")?["status"] as? [String: Any]
        let guards = status?["guards"] as? [[String: Any]]
        #expect(guards?.first?["name"] as? String == "redis-memory")
        #expect(guards?.first?["state"] as? String == "Healthy")
    }

    @Test("Prometheus stopped mid-ramp: replicas are held and the condition names Prometheus; restarted, the ramp resumes")
    func prometheusDownHoldsAndItsReturnResumes() throws {
        let (h, p, _) = try start(ramp: "{step: 1, every: 3s}") { _, _ in
            #"{"spec":{"guards":[{"name":"redis-up","expr":"redis_up == 1"}]}}"#
        }
        defer { p.stop(); h.stop() }
        try startRamp(h, reaching: 2)

        p.stopPrometheus()
        #expect(Wait.until(timeout: .seconds(20)) { guarded(h).status == "True" })
        let (_, reason, message) = guarded(h)
        #expect(reason == "PrometheusUnreachable")
        #expect(message?.contains("Prometheus unreachable at http://127.0.0.1:\(p.port)") == true, "\(message ?? "")")
        let held = try h.scaleWrites("celery-batch1")
        let replicas = try #require(h.replicas("celery-batch1"))
        #expect(replicas < 6)
        // Held for two ramp intervals (a condition over the log, not a sleep: the Event marks a later pass).
        #expect(Wait.until(timeout: .seconds(20)) { (try? h.eventReasons("batch1"))?.contains("GuardTripped") == true })
        #expect(!Wait.until(timeout: .seconds(7)) { (h.replicas("celery-batch1") ?? 0) > replicas })
        #expect(try h.scaleWrites("celery-batch1") == held)

        try p.startPrometheus()
        #expect(Wait.until(timeout: .seconds(60)) { h.replicas("celery-batch1") == 6 })
        #expect(guarded(h).status == "False")
    }

    @Test("guards that never fail change nothing: the writes equal those of the same scenario without guards")
    func healthyGuardsChangeNothing() throws {
        func scenario(guarded: Bool) throws -> [Int] {
            let (h, p, _) = try start(ramp: "{step: 2, every: 2s}", guards: guarded ? { _, _ in
                #"{"spec":{"guards":[{"name":"redis-up","expr":"redis_up == 1"},{"name":"redis-memory","expr":"redis_memory_used_bytes > 0"}]}}"#
            } : nil)
            defer { p.stop(); h.stop() }
            try startRamp(h, reaching: 6)
            if guarded { #expect(self.guarded(h).status == "False") }
            return try h.scaleWrites("celery-batch1")
        }
        let without = try scenario(guarded: false)
        let with = try scenario(guarded: true)
        #expect(without == [2, 4, 6])
        #expect(with == without)
    }
}
