@testable import BatchCore
import BatchTesting
import CeleryRedis
import Foundation
import Testing

/// The probe against state made by genuine Celery 5.7 producers and workers. Serialized: each test runs
/// Python processes, and the machine is small.
@Suite(.serialized, .enabled(if: CeleryFixture.isAvailable, "needs the venv: make venv"))
struct CeleryProbeTests {
    static let queues = ["batch0", "batch1", "batch2", "batch3"]

    /// A probe of `queues` on `server` with `layout`.
    static func probe(_ server: RedisServer, _ layout: CeleryLayout = .default) -> QueueProbe {
        QueueProbe(client: RedisClient(options: options(server)), layout: layout, queues: queues)
    }

    /// Σ LLEN over every list key in the database: what Celery has queued, wherever it put it.
    static func allListEntries(_ server: RedisServer) throws -> Int {
        var total = 0
        for key in try server.cli(["--scan"]).split(separator: "\n") where try server.cli(["TYPE", String(key)]).hasPrefix("list") {
            total += Int(try server.cli(["LLEN", String(key)]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }
        return total
    }

    struct LayoutCase: Sendable, CustomTestStringConvertible {
        var name: String
        var layout: CeleryLayout
        var transportOptions: String
        var testDescription: String { name }
    }

    static let layouts = [
        LayoutCase(name: "default layout", layout: .default, transportOptions: "{}"),
        LayoutCase(name: "steps 0..9, sep ':'",
                   layout: CeleryLayout(globalKeyPrefix: "", separator: ":", prioritySteps: Array(0...9)),
                   transportOptions: #"{"sep": ":", "priority_steps": [0,1,2,3,4,5,6,7,8,9], "queue_order_strategy": "priority"}"#),
        LayoutCase(name: "global key prefix", layout: CeleryLayout(globalKeyPrefix: "court:", separator: "\u{06}\u{16}", prioritySteps: [0, 3, 6, 9]),
                   transportOptions: #"{"global_keyprefix": "court:"}"#),
    ]

    @Test("depth equals what Celery producers sent, every priority 0..9 and none", arguments: layouts)
    func depthMatchesProducers(c: LayoutCase) async throws {
        let server = try RedisServer()
        let celery = CeleryFixture(brokerURL: server.url, transportOptions: c.transportOptions)
        let perPriority = (0...9).map { #"{"queue": "batch2", "count": 1, "priority": \#($0)}"# }.joined(separator: ",")
        try celery.produce(#"[{"queue": "batch0", "count": 3}, {"queue": "batch1", "count": 2, "priority": 5}, \#(perPriority)]"#)

        let probe = Self.probe(server, c.layout)
        defer { probe.client.close() }
        let result = try await probe.observe()
        #expect(result.queues.map(\.depth) == [3, 2, 10, 0])
        #expect(result.queues.map(\.inFlight) == [0, 0, 0, 0])
        #expect(result.queues.allSatisfy { $0.error == nil })
        #expect(result.roundTrips == 1)
        // Every list Celery wrote is one of the probe's keys: nothing is missed.
        #expect(try Self.allListEntries(server) == 15)
        // Each priority landed where CeleryKeys says kombu puts it.
        let keys = CeleryKeys(layout: c.layout)
        var expected: [String: Int] = [:]
        for p in 0...9 { expected[keys.key(for: "batch2", priority: p), default: 0] += 1 }
        for (key, n) in expected {
            #expect(try server.cli(["LLEN", key]).trimmingCharacters(in: .whitespacesAndNewlines) == String(n), "\(printableKey(key))")
        }
    }

    @Test("countdown tasks are in flight while a worker holds them, and queued again after it stops")
    func countdownTasks() async throws {
        let server = try RedisServer()
        let logs = try TemporaryDirectory(prefix: "celery")
        let celery = CeleryFixture(brokerURL: server.url)
        try celery.produce(#"[{"queue": "batch1", "count": 3, "countdown": 600}, {"queue": "batch1", "count": 2}]"#)
        let probe = Self.probe(server)
        defer { probe.client.close() }
        #expect(try await probe.observe()["batch1"]?.depth == 5)

        let worker = try celery.startWorker(queues: ["batch1"], hostname: "celery@celery-batch1-6f7c9d8b5-q2w3e", logDirectory: logs.path)
        let held = await Wait.until(timeout: .seconds(90), interval: .milliseconds(250)) {
            let r = try? await probe.observe()
            return r?["batch1"]?.depth == 0 && r?["batch1"]?.inFlight == 3
        }
        #expect(held, "worker log: \(worker.stderr)")
        let r = try await probe.observe()
        #expect(r["batch1"] == QueueReading(name: "batch1", depth: 0, inFlight: 3))
        #expect(r.unacked.entries == 3)

        worker.stop(grace: .seconds(30))   // warm shutdown puts reserved messages back on the list
        let after = try await probe.observe()
        #expect(after["batch1"] == QueueReading(name: "batch1", depth: 3, inFlight: 0))
    }

    @Test("entries a SIGKILLed worker left in unacked stay counted as in flight")
    func sigkilledWorker() async throws {
        let server = try RedisServer()
        let logs = try TemporaryDirectory(prefix: "celery")
        let celery = CeleryFixture(brokerURL: server.url, acksLate: true)
        try celery.produce(#"[{"queue": "batch3", "count": 4, "task": "fixture.sleep", "args": [120]}]"#)
        let probe = Self.probe(server)
        defer { probe.client.close() }
        let worker = try celery.startWorker(queues: ["batch3"], hostname: "celery@celery-batch3-6f7c9d8b5-kill1",
                                            concurrency: 1, prefetchMultiplier: 2, pool: "threads", logDirectory: logs.path)
        let held = await Wait.until(timeout: .seconds(90), interval: .milliseconds(250)) {
            let r = try? await probe.observe()
            return r?["batch3"]?.inFlight == 2 && r?["batch3"]?.depth == 2
        }
        #expect(held, "worker log: \(worker.stderr)")
        worker.signal(SIGKILL)
        _ = worker.waitForExit(timeout: .seconds(30))
        #expect(!worker.isRunning)
        let r = try await probe.observe()
        #expect(r["batch3"] == QueueReading(name: "batch3", depth: 2, inFlight: 2))
        #expect(r.queues.filter { $0.name != "batch3" }.allSatisfy { $0.depth == 0 && $0.inFlight == 0 })
    }

    @Test("a live acks_late worker's executing and prefetched tasks are in flight")
    func acksLateWorker() async throws {
        let server = try RedisServer()
        let logs = try TemporaryDirectory(prefix: "celery")
        let celery = CeleryFixture(brokerURL: server.url, acksLate: true)
        try celery.produce(#"[{"queue": "batch0", "count": 3, "task": "fixture.sleep", "args": [60]}]"#)
        let probe = Self.probe(server)
        defer { probe.client.close() }
        let worker = try celery.startWorker(queues: ["batch0"], hostname: "celery@celery-batch0-6f7c9d8b5-late1",
                                            concurrency: 1, prefetchMultiplier: 1, logDirectory: logs.path)
        defer { worker.stop(grace: .seconds(2)) }
        // prefetch 1 × concurrency 1: exactly the executing task is held.
        let held = await Wait.until(timeout: .seconds(90), interval: .milliseconds(250)) {
            let r = try? await probe.observe()
            return r?["batch0"]?.inFlight == 1 && r?["batch0"]?.depth == 2
        }
        #expect(held, "worker log: \(worker.stderr)")
        #expect(worker.stderr.contains("Task fixture.sleep"), "the task is executing")
        #expect(try await probe.observe()["batch0"] == QueueReading(name: "batch0", depth: 2, inFlight: 1))
    }

    @Test("tasks sent through a named exchange are routed to their queue through the kombu binding")
    func namedExchange() async throws {
        let server = try RedisServer()
        let logs = try TemporaryDirectory(prefix: "celery")
        let celery = CeleryFixture(brokerURL: server.url, acksLate: true)
        try celery.declareExchange("jobs", routingKey: "rk5", queue: "batch2")
        try celery.produce(#"[{"exchange": "jobs", "routing_key": "rk5", "count": 3, "task": "fixture.sleep", "args": [60]}]"#)
        let probe = Self.probe(server)
        defer { probe.client.close() }
        #expect(try await probe.observe()["batch2"]?.depth == 3)
        let worker = try celery.startWorker(queues: ["batch2"], hostname: "celery@celery-batch2-6f7c9d8b5-exch1",
                                            concurrency: 1, prefetchMultiplier: 2, pool: "threads", logDirectory: logs.path)
        defer { worker.stop(grace: .seconds(2)) }
        let held = await Wait.until(timeout: .seconds(90), interval: .milliseconds(250)) {
            let r = try? await probe.observe()
            return r?["batch2"]?.inFlight == 2
        }
        #expect(held, "worker log: \(worker.stderr)")
        let r = try await probe.observe()
        #expect(r["batch2"] == QueueReading(name: "batch2", depth: 1, inFlight: 2))
        #expect(r.unacked.otherQueues == 0)
        #expect(r.roundTrips == 1, "the binding is re-read inside the block once known")
    }

    @Test("a queue key of the wrong type names the key; the other queues are still reported")
    func wrongType() async throws {
        let server = try RedisServer()
        let celery = CeleryFixture(brokerURL: server.url)
        try celery.produce(#"[{"queue": "batch0", "count": 2}, {"queue": "batch2", "count": 1, "priority": 9}]"#)
        try server.cli(["SET", "batch1", "x"])
        let probe = Self.probe(server)
        defer { probe.client.close() }
        let r = try await probe.observe()
        #expect(r["batch0"] == QueueReading(name: "batch0", depth: 2, inFlight: 0))
        #expect(r["batch2"] == QueueReading(name: "batch2", depth: 1, inFlight: 0))
        #expect(r["batch1"]?.depth == nil)
        let message = try #require(r["batch1"]?.error)
        #expect(message.contains("key \"batch1\" is not a list (WRONGTYPE)"))
        #expect(message.contains("SET batch1 x"))

        try server.cli(["SET", "unacked", "oops"])
        let r2 = try await probe.observe()
        #expect(r2["batch0"]?.depth == 2)
        #expect(r2["batch0"]?.inFlight == nil)
        #expect(r2.unacked.error?.contains("\"unacked\" could not be read as a hash") == true)
    }

    @Test("the probe is one round trip of read-only commands, as Redis counts them")
    func oneRoundTripAsRedisCounts() async throws {
        let server = try RedisServer()
        let celery = CeleryFixture(brokerURL: server.url)
        try celery.produce(#"[{"queue": "batch0", "count": 2}]"#)
        let probe = Self.probe(server)
        defer { probe.client.close() }
        _ = try await probe.observe()   // connect first
        let before = try infoField(server, "total_commands_processed")
        let r = try await probe.observe()
        let after = try infoField(server, "total_commands_processed")
        // MULTI + 4 queues × 4 LLEN + HLEN, ZCARD, ZRANGEBYSCORE (new deliveries) + INFO + EXEC, plus the
        // first `INFO stats` itself. (No ZCOUNT: nothing is in flight, so there is no chunk to check.)
        #expect(after - before == 1 + 16 + 3 + 1 + 1 + 1)
        #expect(r.roundTrips == 1)
        #expect(try server.cli(["DBSIZE"]).trimmingCharacters(in: .whitespacesAndNewlines) == "3", "nothing written")
    }

    @Test("depth agrees with Flower 2.2's /api/queues/length")
    func agreesWithFlower() async throws {
        let server = try RedisServer()
        let logs = try TemporaryDirectory(prefix: "flower")
        let transport = #"{"sep": ":", "priority_steps": [0,1,2,3,4,5,6,7,8,9], "queue_order_strategy": "priority"}"#
        let celery = CeleryFixture(brokerURL: server.url, transportOptions: transport, queues: Self.queues)
        let perPriority = (0...9).map { #"{"queue": "batch1", "count": 2, "priority": \#($0)}"# }.joined(separator: ",")
        try celery.produce(#"[{"queue": "batch0", "count": 4}, \#(perPriority), {"queue": "batch3", "count": 1, "priority": 7}]"#)
        let port = try FreePort.next()
        let flower = try celery.startFlower(port: port, logDirectory: logs.path)
        defer { flower.stop(grace: .seconds(5)) }
        var flowerCounts: [String: Int] = [:]
        let answered = await eventually(timeout: .seconds(90), interval: .milliseconds(500)) {
            guard let (status, body) = try? HTTPGet.text("http://127.0.0.1:\(port)/api/queues/length"), status == 200,
                  let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                  let active = json["active_queues"] as? [[String: Any]] else { return false }
            flowerCounts = Dictionary(uniqueKeysWithValues: active.compactMap { q in
                (q["name"] as? String).flatMap { name in (q["messages"] as? Int).map { (name, $0) } }
            })
            return Set(flowerCounts.keys).isSuperset(of: Self.queues)
        }
        #expect(answered, "flower log: \(flower.stderr)")
        let probe = Self.probe(server, CeleryLayout(globalKeyPrefix: "", separator: ":", prioritySteps: Array(0...9)))
        defer { probe.client.close() }
        let r = try await probe.observe()
        #expect(r.queues.map(\.depth) == [4, 20, 0, 1])
        for q in r.queues { #expect(flowerCounts[q.name] == q.depth, "\(q.name)") }
    }
}
