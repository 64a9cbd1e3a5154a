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
        ("redis://[fe80::1%eth0]:6379/0", RedisURL(endpoint: .tcp(host: "fe80::1%eth0", port: 6379))),
        ("redis://my_redis-1.cache:6379", RedisURL(endpoint: .tcp(host: "my_redis-1.cache", port: 6379))),
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
        // Found by fuzzing: printed back, the space would be trimmed with the URL's own.
        ("unix:///run/redis.sock  ?db=1", "has a socket path ending in a space; remove the space before ?"),
        ("redis://[::1:6379", "has an unclosed [ in the IPv6 address"),
        ("redis://:p%zz@redis", "has a bad percent-escape in the password"),
        ("unix://relative.sock", "needs an absolute socket path; write unix:///run/redis/redis.sock"),
        ("unix:///tmp/r.sock?database=2", "has an unknown parameter \"database=2\"; only ?db=N is understood"),
        ("unix:///tmp/r.sock?db=x", "has an invalid database \"x\"; use a number such as ?db=0"),
        // Found by `make fuzz`: these parsed, then printed as URLs that did not read back (or would reach hiredis
        // as a host or socket path cut at the NUL).
        ("redis://[redis]:6379", "has \"[redis]\", which is not an IPv6 address; write redis://[::1]:6379/0"),
        ("redis://[[7;\u{0}]", "has \"[[7;\\u{0}]\", which is not an IPv6 address; write redis://[::1]:6379/0"),
        ("redis://secret@hoWtsecret`host", "has an invalid host \"hoWtsecret`host\"; use a host name or an IP address, such as redis.default.svc or 10.0.0.5"),
        ("redis://red\u{0}is:6379", "has an invalid host \"red\\u{0}is\"; use a host name or an IP address, such as redis.default.svc or 10.0.0.5"),
        ("redis://réd:6379", "has an invalid host \"réd\"; use a host name or an IP address, such as redis.default.svc or 10.0.0.5"),
        ("unix:///tmp/r\u{0}.sock", "has a control character in the socket path \"/tmp/r\\u{0}.sock\""),
    ])
    func refusesInvalidURLs(_ text: String, _ problem: String) {
        let error = #expect(throws: RedisURLError.self, "\(text)") { try RedisURL.parse(text) }
        #expect(error?.problem == problem)
        #expect(error?.kind == .badInput)
    }

    @Test(arguments: [
        ("redis://:hunter2@r:99999/0", "\"redis://:***@r:99999/0\""),
        ("redis://hunter2@r:0", "\"redis://***@r:0\""),
        ("redis://user:hunter2@r:0", "\"redis://user:***@r:0\""),
    ])
    func errorsNeverShowThePassword(_ text: String, _ shown: String) {
        let error = #expect(throws: RedisURLError.self) { try RedisURL.parse(text) }
        #expect(error?.description.hasPrefix(shown) == true)
        #expect(error?.description.contains("hunter2") == false)
    }

    /// The fuzzer's first failing input for the Redis URL parser, byte for byte: a bracketed host that is not an
    /// IPv6 address, with NULs and invalid UTF-8. It used to parse and print as `redis://[7;…:6379/0`.
    @Test func bracketedHostThatIsNotIPv6IsRefused() {
        let bytes: [UInt8] = Array("redis://[[7;".utf8) + Array(repeating: 0, count: 7) + Array("00000000007382 2637.063757596".utf8)
            + Array(repeating: 0xFF, count: 6) + Array("88\u{EC}88rediss8]".utf8)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(throws: RedisURLError.self) { try RedisURL.parse(text) }
    }

    /// What `make fuzz` checks for every URL that parses: the description reads back as the same URL, with the
    /// password replaced by its mask.
    @Test(arguments: ["redis://localhost", "redis://w%2Fk:p%40ss@[::1]:7000/3", "redis://s3cret@r", "redis://u%3A@r:1/9",
                      "unix:///s.sock?db=4", "redis://[fe80::1%25eth0]", "REDIS://H_1:65535/1000000"])
    func descriptionReadsBack(_ text: String) throws {
        let url = try RedisURL.parse(text)
        var expected = url
        if url.password != nil { expected.password = "***" }
        #expect(try RedisURL.parse(url.description) == expected)
    }

    @Test func descriptionMasksThePassword() throws {
        let url = try RedisURL.parse("redis://worker:hunter2@redis:6379/1")
        #expect(url.description == "redis://worker:***@redis:6379/1")
        #expect(try RedisURL.parse("redis://[::1]:7000/2").description == "redis://[::1]:7000/2")
        #expect(try RedisURL.parse("unix:///s.sock?db=4").description == "unix:///s.sock?db=4")
    }

    @Test(arguments: [
        ("sentinel://s1", SentinelURL(sentinels: [.init(host: "s1", port: 26379)])),
        ("sentinel://:pw@10.0.0.1:26379/3;sentinel://10.0.0.2:26380; sentinel://[::1]",
         SentinelURL(sentinels: [.init(host: "10.0.0.1", port: 26379), .init(host: "10.0.0.2", port: 26380), .init(host: "::1", port: 26379)],
                     database: 3, password: "pw")),
        ("SENTINEL://h:1", SentinelURL(sentinels: [.init(host: "h", port: 1)])),
    ])
    func parsesCelerySentinelURLs(_ text: String, _ expected: SentinelURL) throws {
        #expect(try SentinelURL.parse(text) == expected)
    }

    @Test func sentinelURLErrorsMaskEveryPassword() {
        let error = #expect(throws: RedisURLError.self) {
            try SentinelURL.parse("sentinel://:hunter2@s1:26379;sentinel://:hunter2@s2:0")
        }
        #expect(error?.description.contains("hunter2") == false)
        #expect(error?.description.contains("(sentinel 2) has an invalid port") == true)
    }

    @Test func aSentinelURLIsNotARedisURL() {
        let error = #expect(throws: RedisURLError.self) { try RedisURL.parse("sentinel://s1:26379") }
        #expect(error?.problem.contains("redis.masterName") == true)
    }

    @Test func sentinelDescriptionReadsBack() throws {
        let url = try SentinelURL.parse("sentinel://w:p@s1:26379/2;sentinel://[::1]:26380")
        #expect(url.description == "sentinel://w:***@s1:26379/2;sentinel://[::1]:26380")
        var expected = url
        expected.password = "***"
        #expect(try SentinelURL.parse(url.description) == expected)
    }
}
