import BatchCore
import BatchTesting
import CeleryRedis
import Testing

/// Probe mechanics that need no Celery process: large `unacked`, memory figures.
@Suite struct QueueProbeTests {
    @Test func aLargeUnackedHashIsScannedInFurtherRoundTrips() async throws {
        let server = try RedisServer(extraArguments: ["--maxmemory", "512mb"])
        let setup = RedisClient(options: options(server))
        defer { setup.close() }
        var commands: [[[UInt8]]] = []
        for i in 0..<2500 {
            let queue = ["batch0", "batch1", "other"][i % 3]
            commands.append([b("HSET"), b("unacked"), b("tag-\(i)"), b(#"[{"body": "x", "n": \#(i)}, "", "\#(queue)"]"#)])
        }
        _ = try await setup.pipeline(commands)
        let probe = QueueProbe(client: RedisClient(options: options(server)), layout: .default, queues: ["batch0", "batch1"],
                               unackedBatch: 500)
        defer { probe.client.close() }
        // The first look reads the hash whole (it was assumed small); later looks scan it.
        for _ in 0..<2 {
            let r = try await probe.observe()
            #expect(r["batch0"]?.inFlight == 834)
            #expect(r["batch1"]?.inFlight == 833)
            #expect(r.unacked.entries == 2500)
            #expect(r.unacked.otherQueues == 833)
        }
        let scanned = try await probe.observe()
        #expect(scanned.roundTrips > 1)
        #expect(scanned.memory?.maxMemory == 512 * 1024 * 1024)
        #expect((scanned.memory?.usedMemory ?? 0) > 0)
    }

    @Test func monitorSeesOnlyReadCommandsInOneBlock() async throws {
        let server = try RedisServer()
        try server.cli(["RPUSH", "batch0", "a"])
        try server.cli(["SADD", "_kombu.binding.jobs", "rk\u{06}\u{16}\u{06}\u{16}batch1"])
        try server.cli(["HSET", "unacked", "t1", #"[{}, "jobs", "rk"]"#])
        let monitor = try ChildProcess(name: "monitor", executable: "/usr/bin/redis-cli",
                                       arguments: ["-p", "\(server.port)", "MONITOR"], logDirectory: server.directory.path)
        defer { monitor.stop(grace: .seconds(2)) }
        #expect(await eventually(timeout: .seconds(30)) { monitor.stdout.hasPrefix("OK") })
        let probe = QueueProbe(client: RedisClient(options: options(server)), layout: .default, queues: ["batch0", "batch1"])
        defer { probe.client.close() }
        let first = try await probe.observe()
        let second = try await probe.observe()
        #expect(first["batch1"]?.inFlight == 1)
        #expect(first.roundTrips == 2, "the new exchange's bindings cost one more round trip, once")
        #expect(second.roundTrips == 1)
        #expect(await eventually(timeout: .seconds(30)) { monitor.stdout.components(separatedBy: "\"EXEC\"").count == 3 })
        let commands = monitor.stdout.split(separator: "\n").dropFirst().compactMap { line -> String? in
            guard let r = line.range(of: "] \"") else { return nil }
            return String(line[r.upperBound...].prefix { $0 != "\"" }).uppercased()
        }
        #expect(Set(commands).isSubset(of: ["SELECT", "MULTI", "LLEN", "HVALS", "HSCAN", "SMEMBERS", "INFO", "EXEC"]), "\(commands)")
        #expect(commands.filter { $0 == "MULTI" }.count == 2)
    }
}
