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
}
