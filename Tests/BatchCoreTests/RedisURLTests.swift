import Testing
@testable import BatchCore

@Suite struct RedisURLTests {
    @Test(arguments: [
        ("redis://localhost", RedisURL(endpoint: .tcp(host: "localhost", port: 6379))),
        ("redis://redis:6380/2", RedisURL(endpoint: .tcp(host: "redis", port: 6380), database: 2)),
        ("redis://10.0.0.5/", RedisURL(endpoint: .tcp(host: "10.0.0.5", port: 6379))),
        ("REDIS://Host:1", RedisURL(endpoint: .tcp(host: "Host", port: 1))),
        ("redis://:s3cret@redis:6379/0", RedisURL(endpoint: .tcp(host: "redis", port: 6379), password: "s3cret")),
        ("redis://s3cret@redis", RedisURL(endpoint: .tcp(host: "redis", port: 6379), password: "s3cret")),
        ("redis://worker:pa%40ss%3Aw@redis:6379/1", RedisURL(endpoint: .tcp(host: "redis", port: 6379), database: 1, username: "worker", password: "pa@ss:w")),
        ("redis://[::1]:6390/3", RedisURL(endpoint: .tcp(host: "::1", port: 6390), database: 3)),
        ("redis://[::1]", RedisURL(endpoint: .tcp(host: "::1", port: 6379))),
        ("unix:///run/redis/redis.sock", RedisURL(endpoint: .unix(path: "/run/redis/redis.sock"))),
        ("unix:///tmp/r.sock?db=5", RedisURL(endpoint: .unix(path: "/tmp/r.sock"), database: 5)),
    ])
    func parsesValidURLs(_ text: String, _ expected: RedisURL) throws {
        #expect(try RedisURL.parse(text) == expected)
    }

    @Test(arguments: [
        ("rediss://redis:6379", "uses TLS, which batchctl's Redis client (hiredis 0.14) cannot speak; run a TLS sidecar such as stunnel or ghostunnel next to the controller and point batchctl at its plain local port, e.g. redis://127.0.0.1:6380/0 (see RUNBOOK.md, \"Redis over TLS\")"),
        ("redis:6379", "is not a URL; write redis://host:6379/0 or unix:///run/redis/redis.sock"),
        ("http://redis:6379", "has the unsupported scheme \"http\"; use redis://host:6379/0 or unix:///run/redis/redis.sock"),
        ("redis://", "has no host; write redis://host:6379/0"),
        ("redis://:6379/0", "has no host; write redis://host:6379/0"),
        ("redis://redis:0", "has an invalid port \"0\"; use a number from 1 to 65535"),
        ("redis://redis:http", "has an invalid port \"http\"; use a number from 1 to 65535"),
        ("redis://redis:6379/one", "has an invalid database \"one\"; the path must be a database number such as /0"),
        ("redis://redis:6379/-1", "has an invalid database \"-1\"; the path must be a database number such as /0"),
        ("redis://redis:6379/0?db=1", "has query parameters; give the database as the path, e.g. redis://host:6379/2"),
        ("redis://::1:6379", "has an IPv6 address without brackets; write redis://[::1]:6379/0"),
        ("redis://[::1:6379", "has an unclosed [ in the IPv6 address"),
        ("redis://:p%zz@redis", "has a bad percent-escape in the password"),
        ("unix://relative.sock", "needs an absolute socket path; write unix:///run/redis/redis.sock"),
        ("unix:///tmp/r.sock?database=2", "has an unknown parameter \"database=2\"; only ?db=N is understood"),
        ("unix:///tmp/r.sock?db=x", "has an invalid database \"x\"; use a number such as ?db=0"),
    ])
    func refusesInvalidURLs(_ text: String, _ problem: String) {
        do {
            _ = try RedisURL.parse(text)
            Issue.record("expected an error for \(text)")
        } catch {
            #expect(error.problem == problem)
            #expect(error.kind == .badInput)
        }
    }

    @Test(arguments: [
        ("redis://:hunter2@r:99999/0", "\"redis://:***@r:99999/0\""),
        ("redis://hunter2@r:0", "\"redis://***@r:0\""),
        ("redis://user:hunter2@r:0", "\"redis://user:***@r:0\""),
    ])
    func errorsNeverShowThePassword(_ text: String, _ shown: String) {
        do {
            _ = try RedisURL.parse(text)
            Issue.record("expected an error")
        } catch {
            #expect(error.description.hasPrefix(shown))
            #expect(!error.description.contains("hunter2"))
        }
    }

    @Test func descriptionMasksThePassword() throws {
        let url = try RedisURL.parse("redis://worker:hunter2@redis:6379/1")
        #expect(url.description == "redis://worker:***@redis:6379/1")
        #expect(try RedisURL.parse("redis://[::1]:7000/2").description == "redis://[::1]:7000/2")
        #expect(try RedisURL.parse("unix:///s.sock?db=4").description == "unix:///s.sock?db=4")
    }
}
