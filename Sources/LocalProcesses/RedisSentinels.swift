import Foundation

/// Redis behind Sentinel on loopback, for tests: a master, replicas of it, and sentinels that monitor it
/// as `masterName` (quorum 2, `down-after-milliseconds` 1000, so a failover is quick), each a real
/// process with its configuration file in a temporary directory, stopped by pid.
public final class RedisSentinels: @unchecked Sendable {
    /// The servers: `servers[0]` starts as the master, the others as its replicas.
    public let servers: [RedisServer]
    /// The sentinels' ports.
    public let sentinelPorts: [Int]
    public let masterName: String
    /// The sentinels' own password (`requirepass`), if any.
    public let sentinelPassword: String?
    public let directory: TemporaryDirectory
    private var sentinels: [ChildProcess?]

    /// Starts the servers and the sentinels, and waits until the replicas are in sync and every sentinel
    /// sees the replicas and the other sentinels (30 s at most).
    /// - Parameters:
    ///   - replicas: how many replicas of the master to start.
    ///   - sentinels: how many sentinels to start.
    ///   - password: the servers' `requirepass` (the sentinels get it as `auth-pass`, the replicas as `masterauth`).
    ///   - sentinelPassword: the sentinels' own `requirepass`.
    public init(masterName: String = "mymaster", replicas: Int = 1, sentinels count: Int = 3,
                password: String? = nil, sentinelPassword: String? = nil) throws {
        self.masterName = masterName
        self.sentinelPassword = sentinelPassword
        directory = try TemporaryDirectory(prefix: "sentinels")
        // No 5 s wait before the first sync (Redis 7's repl-diskless-sync-delay), so replicas are in sync soon.
        let auth = (password.map { ["--masterauth", $0] } ?? []) + ["--repl-diskless-sync-delay", "0"]
        let master = try RedisServer(password: password, extraArguments: auth, in: directory.path)
        var servers = [master]
        for _ in 0..<replicas {
            servers.append(try RedisServer(password: password, extraArguments: auth + ["--replicaof", "127.0.0.1", "\(master.port)"],
                                           in: directory.path))
        }
        self.servers = servers
        var ports: [Int] = []
        for _ in 0..<count { ports.append(try FreePort.next()) }
        sentinelPorts = ports
        sentinels = []
        for port in ports {
            let conf = directory.path + "/sentinel-\(port).conf"
            var lines = ["port \(port)", "bind 127.0.0.1", "protected-mode no", "daemonize no", "dir \(directory.path)",
                         "sentinel monitor \(masterName) 127.0.0.1 \(master.port) 2",
                         "sentinel down-after-milliseconds \(masterName) 1000",
                         "sentinel failover-timeout \(masterName) 10000",
                         "sentinel parallel-syncs \(masterName) 1"]
            if let password { lines.append("sentinel auth-pass \(masterName) \(password)") }
            if let sentinelPassword { lines += ["requirepass \(sentinelPassword)", "sentinel sentinel-pass \(sentinelPassword)"] }
            try (lines.joined(separator: "\n") + "\n").write(toFile: conf, atomically: true, encoding: .utf8)
            sentinels.append(try Self.startSentinel(conf: conf, port: port, logDirectory: directory.path))
        }
        let ready = Wait.until(timeout: .seconds(30), interval: .milliseconds(200)) {
            servers.dropFirst().allSatisfy { replica in
                (try? replica.cli(["INFO", "replication"]))?.contains("master_link_status:up") == true
            } && ports.allSatisfy { port in
                guard let info = try? self.sentinelCLI(port, ["SENTINEL", "MASTER", masterName]) else { return false }
                let fields = info.split(separator: "\n").map(String.init)
                func field(_ name: String) -> String? { fields.firstIndex(of: name).flatMap { $0 + 1 < fields.count ? fields[$0 + 1] : nil } }
                return field("num-slaves") == "\(replicas)" && field("num-other-sentinels") == "\(count - 1)"
            }
        }
        guard ready else {
            stop()
            throw SupportError("the replicas did not sync, or the sentinels did not see \(replicas) replica(s) and each other, within 30s")
        }
    }

    private static func startSentinel(conf: String, port: Int, logDirectory: String) throws -> ChildProcess {
        let path = ["/usr/bin/redis-sentinel", "/usr/local/bin/redis-sentinel"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let path else { throw SupportError("redis-sentinel is not installed; run `make deps` (Debian package redis-sentinel)") }
        let child = try ChildProcess(name: "sentinel-\(port)", executable: path, arguments: [conf], logDirectory: logDirectory)
        guard Wait.until(timeout: .seconds(10), { FreePort.isListening(port) }) else {
            child.stop(grace: .seconds(2))
            throw SupportError("redis-sentinel did not start on port \(port): \(child.stderr)\(child.stdout)")
        }
        return child
    }

    /// Celery's broker URL for these sentinels: `sentinel://127.0.0.1:P1/0;sentinel://127.0.0.1:P2;...`.
    public var brokerURL: String {
        sentinelPorts.enumerated().map { i, p in "sentinel://127.0.0.1:\(p)" + (i == 0 ? "/0" : "") }.joined(separator: ";")
    }

    /// The master's port as sentinel `index` reports it (`SENTINEL get-master-addr-by-name`), nil if it cannot say.
    public func masterPort(asSeenBy index: Int) -> Int? {
        guard let out = try? sentinelCLI(sentinelPorts[index], ["SENTINEL", "get-master-addr-by-name", masterName]) else { return nil }
        let lines = out.split(separator: "\n")
        return lines.count == 2 ? Int(lines[1]) : nil
    }

    /// The server whose port every sentinel names as the master, if they agree.
    public func agreedMaster() -> RedisServer? {
        let ports = Set(sentinelPorts.indices.map { masterPort(asSeenBy: $0) })
        guard ports.count == 1, let port = ports.first ?? nil else { return nil }
        return servers.first { $0.port == port }
    }

    /// `ROLE` of a server: `master` or `slave`.
    public func role(of server: RedisServer) -> String? {
        (try? server.cli(["ROLE"]))?.split(separator: "\n").first.map(String.init)
    }

    /// Runs `redis-cli` against sentinel `port`.
    @discardableResult
    public func sentinelCLI(_ port: Int, _ arguments: [String]) throws -> String {
        var args = ["-h", "127.0.0.1", "-p", "\(port)", "--no-auth-warning"]
        if let sentinelPassword { args += ["-a", sentinelPassword] }
        let result = try Command.run("/usr/bin/redis-cli", args + arguments, timeout: .seconds(20))
        guard result.status == 0, !result.stdout.hasPrefix("ERR"), !result.stdout.hasPrefix("NOAUTH") else {
            throw SupportError("redis-cli -p \(port) \(arguments) failed: \(result.stderr)\(result.stdout)")
        }
        return result.stdout
    }

    /// Forces a failover (`SENTINEL FAILOVER`) through sentinel 0, retrying while the sentinel answers that
    /// no replica is good yet (30 s at most), then waits until every sentinel names a new master (60 s at
    /// most) and returns it.
    @discardableResult
    public func failover() throws -> RedisServer {
        let old = agreedMaster()
        var lastError = ""
        let started = Wait.until(timeout: .seconds(30), interval: .milliseconds(500)) {
            do {
                try sentinelCLI(sentinelPorts[0], ["SENTINEL", "FAILOVER", masterName])
                return true
            } catch {
                lastError = "\(error)"
                return false
            }
        }
        guard started else { throw SupportError("SENTINEL FAILOVER was refused for 30s: \(lastError)") }
        var new: RedisServer?
        guard Wait.until(timeout: .seconds(60), interval: .milliseconds(100), {
            new = agreedMaster()
            return new != nil && new?.port != old?.port
        }), let new else {
            throw SupportError("the sentinels did not agree on a new master within 60s")
        }
        return new
    }

    /// Stops sentinel `index` (to test a sentinel that does not answer).
    public func stopSentinel(_ index: Int) {
        sentinels[index]?.stop(grace: .seconds(5))
        sentinels[index] = nil
    }

    /// Stops every sentinel and server, by pid.
    public func stop() {
        for i in sentinels.indices { stopSentinel(i) }
        for server in servers { server.stop() }
    }

    deinit { stop() }
}
