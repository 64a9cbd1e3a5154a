import BatchCore
import BatchTesting
import CeleryRedis
import Testing

@Suite struct RedisClientTests {
    @Test func pipelinesAreBinarySafeAndOneRoundTrip() async throws {
        let server = try RedisServer()
        let client = RedisClient(options: options(server))
        defer { client.close() }
        let key: [UInt8] = [0x62, 0x00, 0x06, 0x16, 0x39]
        let replies = try await client.pipeline([[b("RPUSH"), key, [0, 1, 2]], [b("LLEN"), key], [b("LINDEX"), key, b("0")], [b("GET"), b("missing")]])
        #expect(replies == [.integer(1), .integer(1), .string([0, 1, 2]), .null])
        #expect(client.stats.roundTrips == 1)
        #expect(client.stats.connects == 1)
    }

    @Test func authenticatesWithPasswordAndSelectsTheDatabase() async throws {
        let server = try RedisServer(password: "s3cret pass")
        try server.cli(["-n", "5", "RPUSH", "only-in-5", "x"])
        let client = RedisClient(options: options(server, database: 5))
        defer { client.close() }
        #expect(try await client.command(["LLEN", "only-in-5"]) == .integer(1))
    }

    @Test func authenticatesAsAnACLUser() async throws {
        let server = try RedisServer()
        try server.cli(["ACL", "SETUSER", "probe", "on", ">probe-pass", "~*", "+@read", "+select", "+multi", "+exec", "+info", "+ping"])
        let client = RedisClient(options: options(server, password: "probe-pass", username: "probe"))
        defer { client.close() }
        #expect(try await client.command(["LLEN", "nothing"]) == .integer(0))
    }

    @Test func connectsOverAUnixSocket() async throws {
        let server = try RedisServer()
        let client = RedisClient(options: RedisConnectionOptions(url: RedisURL(endpoint: .unix(path: server.unixSocket))))
        defer { client.close() }
        #expect(try await client.command(["PING"]) == .status("PONG"))
    }

    @Test(arguments: [("wrong", "WRONGPASS"), (nil, "NOAUTH")] as [(String?, String)])
    func badCredentialsAreAnAuthenticationFailure(password: String?, serverSays: String) async throws {
        let server = try RedisServer(password: "right")
        var opts = options(server)
        opts.password = password
        let client = RedisClient(options: opts)
        defer { client.close() }
        let error = await #expect(throws: RedisError.self) { try await client.command(["PING"]) }
        #expect(error?.reason == .authenticationFailed)
        #expect(error?.description.contains("127.0.0.1:\(server.port)") == true)
        #expect(error?.description.contains("REDIS_PASSWORD") == true)
        #expect(error?.description.contains(serverSays) == true)
        #expect(error?.description.contains("right") == false)
    }

    @Test func unknownHostAndRefusedPortSayWhatToCheck() async throws {
        let unknown = RedisClient(options: RedisConnectionOptions(url: RedisURL(endpoint: .tcp(host: "no-such-host.invalid", port: 6379))))
        defer { unknown.close() }
        let e1 = await #expect(throws: RedisError.self) { try await unknown.command(["PING"]) }
        #expect(e1?.reason == .unknownHost)
        #expect(e1?.description.contains("no-such-host.invalid:6379") == true)

        let port = try FreePort.next()
        let refused = RedisClient(options: RedisConnectionOptions(url: RedisURL(endpoint: .tcp(host: "127.0.0.1", port: port))))
        defer { refused.close() }
        let e2 = await #expect(throws: RedisError.self) { try await refused.command(["PING"]) }
        #expect(e2?.reason == .connectionRefused)
        #expect(e2?.description.contains("127.0.0.1:\(port)") == true)
    }

    @Test func recoversByItselfAfterRedisRestarts() async throws {
        let server = try RedisServer(password: "pw")
        let client = RedisClient(options: options(server))
        defer { client.close() }
        try server.cli(["RPUSH", "q", "a"])
        #expect(try await client.command(["LLEN", "q"]) == .integer(1))
        server.stop()
        let error = await #expect(throws: RedisError.self) { try await client.command(["LLEN", "q"]) }
        #expect(error.map { [.connectionRefused, .connectionLost].contains($0.reason) } == true)
        try server.start()
        try server.cli(["RPUSH", "q", "a", "b"])
        // AUTH is re-sent on the new connection; backoff is capped at 200 ms here.
        let recovered = await Wait.until(timeout: .seconds(30), interval: .milliseconds(100)) {
            do { return try await client.command(["LLEN", "q"]) == .integer(2) } catch { return false }
        }
        #expect(recovered)
        #expect(client.stats.connects >= 2)
    }

    @Test func aCommandThatOutlivesTheTimeoutFailsAndTheNextCallReconnects() async throws {
        let server = try RedisServer()
        var opts = options(server)
        opts.commandTimeout = .milliseconds(300)
        let client = RedisClient(options: opts)
        defer { client.close() }
        #expect(try await client.command(["PING"]) == .status("PONG"))
        try server.cli(["CLIENT", "PAUSE", "2000", "ALL"])   // the server holds every client's commands
        let error = await #expect(throws: RedisError.self) { try await client.command(["LLEN", "q"]) }
        #expect(error?.reason == .timeout)
        #expect(error?.description.contains("did not answer in time") == true)
        let recovered = await Wait.until(timeout: .seconds(30), interval: .milliseconds(200)) {
            (try? await client.command(["LLEN", "q"])) == .integer(0)
        }
        #expect(recovered)
        #expect(client.stats.connects == 2)
    }

    @Test func errorRepliesComeBackPerCommand() async throws {
        let server = try RedisServer()
        try server.cli(["SET", "batch1", "x"])
        let client = RedisClient(options: options(server))
        defer { client.close() }
        let replies = try await client.pipeline([[b("LLEN"), b("batch1")], [b("LLEN"), b("batch0")]])
        #expect(replies[0].errorMessage?.hasPrefix("WRONGTYPE") == true)
        #expect(replies[1] == .integer(0))
        // The connection is still usable after an error reply.
        #expect(try await client.command(["PING"]) == .status("PONG"))
        #expect(client.stats.connects == 1)
    }
}

func b(_ s: String) -> [UInt8] { Array(s.utf8) }
