import BatchCore
import BatchTesting
import CeleryRedis
import Testing

/// What kombu's `QoS.append` writes for one delivered message: the hash value and its index entry, in
/// one MULTI (so a reader never sees one without the other).
func delivery(tag: String, queue: String, at score: Double, exchange: String = "", size: Int = 0) -> [[[UInt8]]] {
    let body = String(repeating: "x", count: size)
    return [[b("MULTI")],
            [b("ZADD"), b("unacked_index"), b("\(score)"), b(tag)],
            [b("HSET"), b("unacked"), b(tag), b(#"[{"body": "\#(body)", "properties": {"delivery_tag": "\#(tag)"}}, "\#(exchange)", "\#(queue)"]"#)],
            [b("EXEC")]]
}

/// What kombu's ack (or a restore) removes.
func acknowledgement(tag: String) -> [[[UInt8]]] {
    [[b("MULTI")], [b("HDEL"), b("unacked"), b(tag)], [b("ZREM"), b("unacked_index"), b(tag)], [b("EXEC")]]
}

/// Probe mechanics that need no Celery process: a large `unacked`, incremental reads, memory figures.
@Suite struct QueueProbeTests {
    @Test func aLargeUnackedIsReadInBoundedPassesThenExactly() async throws {
        let server = try RedisServer(extraArguments: ["--maxmemory", "512mb"])
        let setup = RedisClient(options: options(server))
        defer { setup.close() }
        var commands: [[[UInt8]]] = []
        for i in 0..<2500 {
            let queue = ["batch0", "batch1", "other"][i % 3]
            commands += delivery(tag: "tag-\(i)", queue: queue, at: 1_795_305_767 + Double(i % 700) / 8)
        }
        _ = try await setup.pipeline(commands)
        let probe = QueueProbe(client: RedisClient(options: options(server)), layout: .default, queues: ["batch0", "batch1"],
                               pageSize: 100, passBudget: 1000)
        defer { probe.client.close() }
        // 1000 entries a pass: two passes report "not complete yet" (unknown, so the controller holds).
        for read in [1000, 2000] {
            let r = try await probe.observe()
            #expect(r["batch0"]?.inFlight == nil)
            #expect(r["batch0"]?.error?.contains("\(read) of 2500 entries") == true, "\(r)")
            #expect(r.unacked.pending == 2500 - read)
        }
        for _ in 0..<2 {
            let r = try await probe.observe()
            #expect(r["batch0"]?.inFlight == 834)
            #expect(r["batch1"]?.inFlight == 833)
            #expect(r.unacked.entries == 2500)
            #expect(r.unacked.otherQueues == 833)
            #expect(r.unacked.pending == nil)
            #expect(r["batch0"]?.error == nil)
        }
        let steady = try await probe.observe()
        #expect(steady.roundTrips == 1, "nothing changed: one block")
        let memory = try #require(steady.memory)
        #expect(memory.max == Int64(512 * 1024 * 1024))
        #expect(memory.used > 0)
        // Acks and deliveries since: exact again, reading only what changed.
        _ = try await setup.pipeline(acknowledgement(tag: "tag-0") + acknowledgement(tag: "tag-1") + acknowledgement(tag: "tag-2")
            + delivery(tag: "tag-new", queue: "batch1", at: 1_795_306_000))
        let changed = try await probe.observe()
        #expect(changed["batch0"]?.inFlight == 833)
        #expect(changed["batch1"]?.inFlight == 833)
        #expect(changed.unacked.otherQueues == 832)
        #expect(changed.roundTrips == 2, "the changed chunk and the new tag are read in one more round trip")
    }

    /// A model of `unacked` (tag → queue, delivery time) changed at random as workers do, with the probe's
    /// counts compared after every change: deliveries, redeliveries, acks anywhere. With clocks in step
    /// every pass is exact. With worker clocks behind (deliveries scored up to 30 s in the past) an ack
    /// and such a delivery in one chunk can cancel out in its count; the window of a chunk compared tag by
    /// tag each pass (in turn, a quarter page: here one tag) finds it, so the counts are exact again within
    /// one round of the windows (about one pass per tracked tag here).
    @Test(arguments: [(1, false), (2, false), (3, false), (4, false), (5, true), (6, true), (7, true), (8, true)])
    func countsStayExactUnderRandomChurn(seed: UInt64, skewedClocks: Bool) async throws {
        let server = try RedisServer()
        let setup = RedisClient(options: options(server))
        defer { setup.close() }
        let queues = ["batch0", "batch1", "batch2"]
        let probe = QueueProbe(client: RedisClient(options: options(server)), layout: .default, queues: queues, pageSize: 4, passBudget: 40)
        defer { probe.client.close() }
        var rng = SeededGenerator(seed: seed)
        var model: [String: String] = [:]
        var clock = 1_795_305_767.0
        var next = 0
        for round in 0..<80 {
            var commands: [[[UInt8]]] = []
            for _ in 0..<Int(rng.next() % 8) {
                let kind = rng.next() % 10
                if kind < 5 || model.isEmpty {
                    let queue = ["batch0", "batch1", "batch2", "elsewhere"][Int(rng.next() % 4)]
                    let skew = kind == 4 && skewedClocks ? -Double(rng.next() % 30) : 0   // a worker whose clock is behind
                    clock += Double(rng.next() % 3) / 4
                    let tag = "t\(next)"
                    next += 1
                    model[tag] = queue
                    commands += delivery(tag: tag, queue: queue, at: clock + skew)
                } else if kind < 8, let tag = model.keys.sorted()[safe: Int(rng.next() % UInt64(model.count))] {
                    model[tag] = nil
                    commands += acknowledgement(tag: tag)
                } else if let tag = model.keys.sorted()[safe: Int(rng.next() % UInt64(model.count))] {
                    clock += 1   // restored and delivered again: same tag, later time
                    commands.append([b("ZADD"), b("unacked_index"), b("\(clock)"), b(tag)])
                }
            }
            if !commands.isEmpty { _ = try await setup.pipeline(commands) }
            var r = try await probe.observe()
            var passes = 1
            // Skewed clocks: quiet passes, at most one per chunk (and the first read's), until exact.
            func exact(_ r: QueueProbeResult) -> Bool {
                r.unacked.pending == nil && queues.allSatisfy { q in r[q]?.inFlight == model.values.filter { $0 == q }.count }
            }
            while !exact(r) && (skewedClocks || r.unacked.pending != nil) && passes < 20 + model.count {
                r = try await probe.observe()
                passes += 1
            }
            for q in queues {
                #expect(r[q]?.inFlight == model.values.filter { $0 == q }.count, "round \(round), \(q)")
                #expect(r[q]?.deliveries?.reduce(0) { $0 + $1.count } == r[q]?.inFlight)
            }
            #expect(r.unacked.entries == model.count)
            #expect(r.unacked.otherQueues == model.values.filter { !queues.contains($0) }.count)
        }
        // A restart (a new probe) counts the same at once (the index is small).
        let fresh = QueueProbe(client: RedisClient(options: options(server)), layout: .default, queues: queues)
        defer { fresh.client.close() }
        let r = try await fresh.observe()
        for q in queues { #expect(r[q]?.inFlight == model.values.filter { $0 == q }.count) }
    }

    @Test func monitorSeesOnlyReadCommands() async throws {
        let server = try RedisServer()
        try server.cli(["RPUSH", "batch0", "a"])
        try server.cli(["SADD", "_kombu.binding.jobs", "rk\u{06}\u{16}\u{06}\u{16}batch1"])
        try server.cli(["HSET", "unacked", "t1", #"[{}, "jobs", "rk"]"#])
        try server.cli(["ZADD", "unacked_index", "1795305767.5", "t1"])
        let monitor = try ChildProcess(name: "monitor", executable: "/usr/bin/redis-cli",
                                       arguments: ["-p", "\(server.port)", "MONITOR"], logDirectory: server.directory.path)
        defer { monitor.stop(grace: .seconds(2)) }
        #expect(await eventually(timeout: .seconds(30)) { monitor.stdout.hasPrefix("OK") })
        let probe = QueueProbe(client: RedisClient(options: options(server)), layout: .default, queues: ["batch0", "batch1"])
        defer { probe.client.close() }
        let first = try await probe.observe()
        let second = try await probe.observe()
        #expect(first["batch1"]?.inFlight == 1)
        #expect(first["batch1"]?.deliveries == [DeliveryGroup(second: 1_795_305_767, count: 1)])
        #expect(first.roundTrips == 3, "the block, the new tag's value, the new exchange's bindings")
        #expect(second.roundTrips == 1)
        #expect(await eventually(timeout: .seconds(30)) { monitor.stdout.components(separatedBy: "\"EXEC\"").count == 3 })
        let commands = monitor.stdout.split(separator: "\n").dropFirst().compactMap { line -> String? in
            guard let r = line.range(of: "] \"") else { return nil }
            return String(line[r.upperBound...].prefix { $0 != "\"" }).uppercased()
        }
        #expect(Set(commands).isSubset(of: ["SELECT", "MULTI", "LLEN", "HLEN", "ZCARD", "ZCOUNT", "ZRANGEBYSCORE", "HMGET",
                                            "SMEMBERS", "INFO", "EXEC"]), "\(commands)")
        #expect(!commands.contains("HVALS") && !commands.contains("HGETALL"))
        #expect(commands.filter { $0 == "MULTI" }.count == 2)
    }
}

extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}
