@testable import BatchCore
import BatchTesting
import CeleryRedis
import Foundation
import Testing

/// Redis behind Sentinel: real redis-server master and replica, three real redis-sentinel processes.
@Suite(.serialized)
struct SentinelTests {
    /// Options that reach the master named `masterName` through the sentinels at `ports`.
    func sentinelOptions(_ ports: [Int], masterName: String = "mymaster", password: String? = nil,
                         sentinelPassword: String? = nil) -> RedisConnectionOptions {
        RedisConnectionOptions(url: RedisURL(endpoint: .tcp(host: "127.0.0.1", port: ports.first ?? 26379)), password: password,
                               connectTimeout: .seconds(2), commandTimeout: .seconds(5), maxBackoff: .milliseconds(200),
                               sentinel: SentinelOptions(sentinels: ports.map { SentinelURL.Address(host: "127.0.0.1", port: $0) },
                                                         masterName: masterName, password: sentinelPassword))
    }

    @Test("the master is found by asking the sentinels in turn, past one that does not answer, and checked with ROLE")
    func resolvesTheMasterPastADeadSentinel() async throws {
        let cluster = try RedisSentinels(password: "master-pw", sentinelPassword: "sentinel-pw")
        defer { cluster.stop() }
        let master = cluster.servers[0]
        try master.cli(["RPUSH", "batch0", "a", "b", "c"])
        let dead = try FreePort.next()
        let client = RedisClient(options: sentinelOptions([dead] + cluster.sentinelPorts, password: "master-pw",
                                                          sentinelPassword: "sentinel-pw"))
        defer { client.close() }
        #expect(try await client.command(["LLEN", "batch0"]) == .integer(3))
        #expect(client.source == RedisSource(server: "127.0.0.1:\(master.port)", sentinel: "127.0.0.1:\(cluster.sentinelPorts[0])"))
    }

    @Test("after SENTINEL FAILOVER the client reads the new master within 3 calls, and the listener resubscribes there")
    func followsAFailover() async throws {
        let cluster = try RedisSentinels()
        defer { cluster.stop() }
        let old = cluster.servers[0]
        try old.cli(["RPUSH", "batch0", "a"])
        let client = RedisClient(options: sentinelOptions(cluster.sentinelPorts))
        defer { client.close() }
        let listener = WorkerActivityListener(options: sentinelOptions(cluster.sentinelPorts), layout: .default)
        listener.start()
        defer { listener.stop() }
        _ = try await client.command(["LLEN", "batch0"])
        #expect(client.source?.server == "127.0.0.1:\(old.port)")
        #expect(await eventually(timeout: .seconds(30)) { listener.source?.server == "127.0.0.1:\(old.port)" })

        let new = try cluster.failover()
        #expect(new.port != old.port)
        // Every sentinel names the new master now: the client follows within 3 calls (errors count as calls).
        var calls = 0
        var sources: [String] = []
        while calls < 3 && client.source?.server != "127.0.0.1:\(new.port)" {
            calls += 1
            do {
                _ = try await client.command(["LLEN", "batch0"])
                sources.append(client.source?.server ?? "?")
            } catch {
                sources.append("error: \(error)")
            }
        }
        #expect(client.source?.server == "127.0.0.1:\(new.port)", "calls: \(sources)")
        // The new master has what the old one had (it was its replica).
        let length = try await client.command(["LLEN", "batch0"])
        #expect(length == .integer(1), "LLEN batch0 on \(client.source?.server ?? "?"): \(length); new master: \((try? new.cli(["LLEN", "batch0"])) ?? "?")")

        // The listener moves too, and hears what is published on the new master.
        let moved = await eventually(timeout: .seconds(30)) {
            listener.isSubscribed && listener.source?.server == "127.0.0.1:\(new.port)"
        }
        #expect(moved, "listener: \(listener.lastError ?? "no error")")
        let channel = CeleryKeys(layout: .default).workerEventChannel(database: 0, event: "heartbeat")
        let event = #"{"hostname": "celery@celery-batch0-6f7c9d8b5-sn101", "type": "worker-heartbeat", "active": 1, "processed": 0, "freq": 2.0, "timestamp": \#(Date().timeIntervalSince1970)}"#
        let heartbeat = #"{"body": "\#(Data(event.utf8).base64EncodedString())", "content-encoding": "utf-8", "content-type": "application/json", "headers": {}, "properties": {"body_encoding": "base64", "delivery_info": {"exchange": "celeryev", "routing_key": "worker.heartbeat"}}}"#
        let heard = await eventually(timeout: .seconds(30), interval: .milliseconds(300)) {
            _ = try? new.cli(["PUBLISH", channel, heartbeat])
            return listener.workers().contains { $0.hostname == "celery@celery-batch0-6f7c9d8b5-sn101" }
        }
        #expect(heard, "listener: \(listener.lastError ?? "no error"), undecodable \(listener.undecodableMessages)")
    }

    @Test("a master demoted under a kept connection (ROLE says slave) is noticed on the next call, not read as a master")
    func demotedMasterIsNoticed() async throws {
        // One sentinel with quorum 2: it can never fail over, so it keeps naming the demoted server.
        let cluster = try RedisSentinels(replicas: 0, sentinels: 1)
        defer { cluster.stop() }
        let master = cluster.servers[0]
        let other = try RedisServer()
        defer { other.stop() }
        let client = RedisClient(options: sentinelOptions(cluster.sentinelPorts))
        defer { client.close() }
        _ = try await client.command(["PING"])
        try master.cli(["REPLICAOF", "127.0.0.1", "\(other.port)"])
        do {
            _ = try await client.command(["LLEN", "batch0"])
            Issue.record("read a replica as the master")
        } catch {
            #expect(error.reason == .notMaster, "\(error)")
            #expect(error.description.contains("127.0.0.1:\(master.port)") && error.description.contains("slave"), "\(error)")
        }
    }

    /// Expects the first command through `options` to fail for `reason`, with a message containing each of `parts`.
    func expectFailure(_ options: RedisConnectionOptions, _ reason: RedisError.Reason, mentioning parts: [String]) async {
        let client = RedisClient(options: options)
        defer { client.close() }
        do {
            _ = try await client.command(["PING"])
            Issue.record("expected \(reason)")
        } catch {
            #expect(error.reason == reason, "\(error)")
            for part in parts { #expect(error.description.contains(part), "\(error)") }
        }
    }

    @Test("no sentinel answers: the error lists each sentinel and says what to check")
    func noSentinelAnswers() async throws {
        let ports = [try FreePort.next(), try FreePort.next()]
        await expectFailure(sentinelOptions(ports), .noSentinel,
                            mentioning: ["127.0.0.1:\(ports[0])", "127.0.0.1:\(ports[1])", "check that redis-sentinel runs there"])
    }

    @Test("an unknown master name: the error names the sentinel and redis.masterName")
    func unknownMasterName() async throws {
        let cluster = try RedisSentinels(replicas: 0, sentinels: 1)
        defer { cluster.stop() }
        await expectFailure(sentinelOptions(cluster.sentinelPorts, masterName: "nosuchmaster"), .unknownMaster,
                            mentioning: ["127.0.0.1:\(cluster.sentinelPorts[0])", "no master named \"nosuchmaster\"", "set redis.masterName"])
    }

    @Test("a sentinel that names a replica: the error names the sentinel, the replica and the fix")
    func sentinelNamingAReplica() async throws {
        let cluster = try RedisSentinels(replicas: 1, sentinels: 1)
        defer { cluster.stop() }
        let replica = cluster.servers[1]
        // One sentinel told that the replica is the master of "stale" (quorum 2 it cannot reach: no failover).
        try cluster.sentinelCLI(cluster.sentinelPorts[0], ["SENTINEL", "MONITOR", "stale", "127.0.0.1", "\(replica.port)", "2"])
        await expectFailure(sentinelOptions(cluster.sentinelPorts, masterName: "stale"), .notMaster,
                            mentioning: ["sentinel 127.0.0.1:\(cluster.sentinelPorts[0]) named 127.0.0.1:\(replica.port)", "slave", "SENTINEL RESET"])
    }

    @Test("a wrong sentinel password says which secret to set")
    func wrongSentinelPassword() async throws {
        let cluster = try RedisSentinels(replicas: 0, sentinels: 1, sentinelPassword: "right")
        defer { cluster.stop() }
        await expectFailure(sentinelOptions(cluster.sentinelPorts, sentinelPassword: "wrong"), .sentinelAuthenticationFailed,
                            mentioning: ["127.0.0.1:\(cluster.sentinelPorts[0])", "REDIS_SENTINEL_PASSWORD"])
    }
}
