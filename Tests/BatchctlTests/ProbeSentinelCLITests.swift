import BatchTesting
import Foundation
import Testing

/// `batchctl probe` behind Redis Sentinel: the built binary, a real master and real sentinels.
@Suite(.serialized) struct ProbeSentinelCLITests {
    static let batchctl = ProjectPaths.product("batchctl")

    @Test("probe names the master it read and the sentinel that named it, as text and as JSON")
    func namesTheMasterAndTheSentinel() throws {
        let cluster = try RedisSentinels(replicas: 0, sentinels: 1, password: "master-pw", sentinelPassword: "sentinel-pw")
        defer { cluster.stop() }
        let master = cluster.servers[0]
        try master.cli(["RPUSH", "batch0", "a", "b"])
        let sentinel = "127.0.0.1:\(cluster.sentinelPorts[0])"
        let environment = ["BATCHCTL_CONFIG": "", "REDIS_PASSWORD": "master-pw", "REDIS_SENTINEL_PASSWORD": "sentinel-pw"]
        let arguments = ["probe", "--redis-url", cluster.brokerURL, "--master-name", "mymaster", "--listen", "0s"]

        let text = try Command.run(Self.batchctl, arguments, environment: environment)
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("Redis 127.0.0.1:\(master.port) (master mymaster, named by sentinel \(sentinel)) db 0:"), "\(text.stdout)")

        let json = try Command.run(Self.batchctl, arguments + ["-o", "json"], environment: environment)
        #expect(json.status == 0, "\(json.stderr)")
        let root = try ProbeView.parse(json.stdout)
        #expect(root.redis.server == "127.0.0.1:\(master.port)")
        #expect(root.redis.sentinel == sentinel)
        #expect(root.redis.masterName == "mymaster")
        #expect(root.queues.first?.depth == 2)
        #expect(!json.stdout.contains("-pw") && !json.stderr.contains("-pw"))
    }

    @Test("bad Sentinel settings exit with an error that names the sentinel and the fix", arguments: [
        ("no sentinel answers", "none of the Redis Sentinels answered"),
        ("unknown master name", "no master named \"other\""),
    ])
    func badSentinelSettings(_ case: String, _ mentions: String) throws {
        let cluster = try RedisSentinels(replicas: 0, sentinels: 1)
        defer { cluster.stop() }
        let dead = try FreePort.next()
        let url = `case` == "no sentinel answers" ? "sentinel://127.0.0.1:\(dead)" : cluster.brokerURL
        let name = `case` == "no sentinel answers" ? "mymaster" : "other"
        let r = try Command.run(Self.batchctl, ["probe", "--redis-url", url, "--master-name", name, "--listen", "0s"],
                                environment: ["BATCHCTL_CONFIG": ""])
        #expect(r.status == 1)
        #expect(r.stderr.contains(mentions), "\(r.stderr)")
        #expect(r.stderr.contains("127.0.0.1:\(`case` == "no sentinel answers" ? dead : cluster.sentinelPorts[0])"), "\(r.stderr)")
    }

    @Test("a sentinel URL without a master name is a usage error")
    func sentinelURLNeedsAMasterName() throws {
        let r = try Command.run(Self.batchctl, ["probe", "--redis-url", "sentinel://127.0.0.1:26379", "--listen", "0s"],
                                environment: ["BATCHCTL_CONFIG": ""])
        #expect(r.status == 2)
        #expect(r.stderr.contains("--master-name"), "\(r.stderr)")
    }
}
