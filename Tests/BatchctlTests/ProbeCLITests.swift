import BatchTesting
import Foundation
import Testing

/// `batchctl probe` end to end: the built binary against a real redis-server.
@Suite struct ProbeCLITests {
    static let batchctl = ProjectPaths.product("batchctl")

    @Test func printsTheIssueJSONShape() throws {
        let server = try RedisServer(password: "cli-pass")
        try server.cli(["RPUSH", "batch0", "a", "b"])
        try server.cli(["RPUSH", "batch0\u{06}\u{16}9", "c"])
        try server.cli(["HSET", "unacked", "tag1", #"[{"body": "x"}, "", "batch0"]"#])
        try server.cli(["ZADD", "unacked_index", "1795305767.685288", "tag1"])
        let r = try Command.run(Self.batchctl, ["probe", "--redis-url", server.url, "-o", "json", "--listen", "500ms"],
                                environment: ["REDIS_PASSWORD": "cli-pass", "BATCHCTL_CONFIG": ""])
        #expect(r.status == 0, "\(r.stderr)")
        let root = try ProbeView.parse(r.stdout)
        let queues = root.queues
        #expect(queues.map(\.name) == ["batch0", "batch1", "batch2", "batch3"])
        #expect(queues[0].depth == 3)
        #expect(queues[0].inFlight == 1)
        #expect(queues[0].busyWorkers == 0)
        #expect((root.redis.usedMemory ?? 0) > 0)
        #expect(root.redis.maxMemory == 0)
        #expect(root.workers?.isEmpty == true)
        #expect(root.roundTrips == 1)
        #expect(!r.stdout.contains("cli-pass"))
    }

    @Test func tableNamesAWrongTypeKeyAndStillReportsTheOthers() throws {
        let server = try RedisServer()
        try server.cli(["RPUSH", "batch0", "a"])
        try server.cli(["SET", "batch1", "x"])
        let r = try Command.run(Self.batchctl, ["probe", "--redis-url", server.url, "--listen", "0s"], environment: ["BATCHCTL_CONFIG": ""])
        #expect(r.status == 1)
        #expect(r.stdout.contains("batch0      1"))
        #expect(r.stderr.contains("error: queue batch1: key \"batch1\" is not a list (WRONGTYPE)"))
    }

    @Test func layoutFlagsOverrideTheConfig() throws {
        let server = try RedisServer()
        try server.cli(["RPUSH", "pfx:batch2", "a"])
        try server.cli(["RPUSH", "pfx:batch2:7", "b", "c"])
        let r = try Command.run(Self.batchctl, ["probe", "--redis-url", server.url, "--listen", "0s", "-o", "json",
                                                "--celery-global-keyprefix", "pfx:", "--celery-sep", ":",
                                                "--celery-priority-steps", "0,1,2,3,4,5,6,7,8,9"],
                                environment: ["BATCHCTL_CONFIG": ""])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try ProbeView.parse(r.stdout).queues[2].depth == 3)
    }

    @Test(arguments: [
        (["--celery-priority-steps", "0,x"], "--celery-priority-steps"),
        (["--listen", "soon"], "--listen"),
        (["-o", "yaml"], "yaml"),
        (["--celery-sep", "\\xZZ"], "--celery-sep"),
        (["--redis-url", "rediss://h:6379/0"], "TLS"),
        (["--redis-url", "redis://h:99999/0"], "invalid port"),
    ])
    func badFlagsExitTwo(arguments: [String], mentions: String) throws {
        let r = try Command.run(Self.batchctl, ["probe", "--listen", "0s"] + arguments, environment: ["BATCHCTL_CONFIG": ""])
        #expect(r.status == 2)
        #expect(r.stderr.contains(mentions), "\(r.stderr)")
    }

    @Test func unreachableRedisExitsOneNamingHostAndPort() throws {
        let port = try FreePort.next()
        let r = try Command.run(Self.batchctl, ["probe", "--redis-url", "redis://127.0.0.1:\(port)/0"], environment: ["BATCHCTL_CONFIG": ""])
        #expect(r.status == 1)
        #expect(r.stderr.contains("cannot connect to Redis at 127.0.0.1:\(port)"))
    }

    @Test func wrongPasswordSaysSoWithoutPrintingIt() throws {
        let server = try RedisServer(password: "right-one")
        let r = try Command.run(Self.batchctl, ["probe", "--redis-url", "redis://:wrong-one@127.0.0.1:\(server.port)/0"],
                                environment: ["BATCHCTL_CONFIG": ""])
        #expect(r.status == 1)
        #expect(r.stderr.contains("refused authentication"))
        #expect(r.stderr.contains("WRONGPASS"))
        #expect(!r.stderr.contains("wrong-one") && !r.stdout.contains("wrong-one"))
    }
}
