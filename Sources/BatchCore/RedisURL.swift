/// Where the Celery broker's Redis lives, parsed from a URL:
/// `redis://[user[:password]@]host[:port][/db]` or `unix:///path/redis.sock[?db=N]`.
///
/// `rediss://` is refused: hiredis 0.14 (the only one Debian 12 ships) has no TLS.

import MemberwiseInit

@MemberwiseInit(.public)
public struct RedisURL: Sendable, Hashable, CustomStringConvertible {
    /// How to reach the server.
    public enum Endpoint: Sendable, Hashable {
        case tcp(host: String, port: Int)
        case unix(path: String)
    }

    public var endpoint: Endpoint
    /// The Redis database number (`SELECT`), 0 by default.
    public var database: Int = 0
    /// The ACL user name (Redis 6+), if any.
    public var username: String?
    /// The password, if the URL carried one. Never printed: see `description`.
    public var password: String?

    /// The URL with any password replaced by `***`, safe to print and log.
    public var description: String {
        switch endpoint {
        case let .tcp(host, port):
            var auth = ""
            if username != nil || password != nil {
                auth = (username.map(Self.percentEncode) ?? "") + (password != nil ? ":***" : "") + "@"
            }
            let h = host.contains(":") ? "[\(host)]" : host
            return "redis://\(auth)\(h):\(port)/\(database)"
        case let .unix(path):
            return "unix://\(path)" + (database != 0 ? "?db=\(database)" : "")
        }
    }

    /// Parses a Redis URL, or throws an error naming what is wrong and what a valid URL looks like.
    public static func parse(_ text: String) throws(RedisURLError) -> RedisURL {
        func fail(_ problem: String) -> RedisURLError { RedisURLError(input: text, problem: problem) }
        let s = text.trimmingWhitespace()
        guard let schemeEnd = s.firstRange(of: "://") else {
            throw fail("is not a URL; write redis://host:6379/0 or unix:///run/redis/redis.sock")
        }
        let scheme = s[..<schemeEnd.lowerBound].lowercased()
        let rest = s[schemeEnd.upperBound...]
        switch scheme {
        case "redis":
            return try parseTCP(rest, fail: fail)
        case "unix":
            return try parseUnix(rest, fail: fail)
        case "sentinel":
            throw fail("names Redis Sentinels, not a Redis server; give it as redis.url together with redis.masterName (Celery's broker_transport_options master_name) in the configuration, or as --redis-url with --master-name")
        case "rediss":
            throw fail("uses TLS, which batchctl's Redis client (hiredis 0.14) cannot speak; run a TLS sidecar such as stunnel or ghostunnel next to the controller and point batchctl at its plain local port, e.g. redis://127.0.0.1:6380/0 (see RUNBOOK.md, \"Redis over TLS\")")
        default:
            throw fail("has the unsupported scheme \"\(scheme)\"; use redis://host:6379/0 or unix:///run/redis/redis.sock")
        }
    }

    static func parseTCP(_ rest: Substring, scheme: String = "redis", defaultPort: Int = 6379,
                                 fail: (String) -> RedisURLError) throws(RedisURLError) -> RedisURL {
        let ex = "\(scheme)://"
        if rest.contains("#") { throw fail("has a fragment (#...); remove it") }
        if rest.contains("?") { throw fail("has query parameters; give the database as the path, e.g. \(ex)host:\(defaultPort)/2") }
        let authority: Substring
        let path: Substring
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            path = rest[rest.index(after: slash)...]
        } else {
            authority = rest
            path = ""
        }
        var username: String?
        var password: String?
        var hostPort = authority
        if let at = authority.lastIndex(of: "@") {
            let userinfo = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
            if let colon = userinfo.firstIndex(of: ":") {
                let user = userinfo[..<colon]
                username = user.isEmpty ? nil : try decode(user, "user name", fail)
                password = try decode(userinfo[userinfo.index(after: colon)...], "password", fail)
            } else if !userinfo.isEmpty {
                // kombu and redis-py read a lone userinfo as the password: redis://secret@host.
                password = try decode(userinfo, "password", fail)
            }
        }
        var host: Substring
        var portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw fail("has an unclosed [ in the IPv6 address") }
            host = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            // Only an IPv6 address (with an optional %zone) belongs in brackets; anything else would print
            // as a URL that does not read back, or reach hiredis as a host it cannot resolve.
            guard host.contains(":"), host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ":.%".contains($0)) }) else {
                throw fail("has \"[\(Self.printable(host))]\", which is not an IPv6 address; write \(ex)[::1]:\(defaultPort)/0")
            }
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty {
                throw fail("has text after the IPv6 address; write \(ex)[::1]:\(defaultPort)/0")
            }
        } else {
            let colons = hostPort.filter { $0 == ":" }.count
            if colons > 1 { throw fail("has an IPv6 address without brackets; write \(ex)[::1]:\(defaultPort)/0") }
            if let colon = hostPort.firstIndex(of: ":") {
                host = hostPort[..<colon]
                portText = hostPort[hostPort.index(after: colon)...]
            } else {
                host = hostPort
            }
        }
        guard !host.isEmpty else { throw fail("has no host; write \(ex)host:\(defaultPort)/0") }
        // A DNS name or an IP address: letters, digits, `-`, `.` and `_` (Compose and some DNS setups use it).
        if !hostPort.hasPrefix("["), !host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._".contains($0)) }) {
            throw fail("has an invalid host \"\(Self.printable(host))\"; use a host name or an IP address, such as redis.default.svc or 10.0.0.5")
        }
        var port = defaultPort
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else {
                throw fail("has an invalid port \"\(Self.printable(portText))\"; use a number from 1 to 65535")
            }
            port = p
        }
        var database = 0
        if !path.isEmpty {
            guard let db = parseDatabase(path) else {
                throw fail("has an invalid database \"\(Self.printable(path))\"; the path must be a database number such as /0")
            }
            database = db
        }
        return RedisURL(endpoint: .tcp(host: String(host), port: port), database: database, username: username, password: password)
    }

    private static func parseUnix(_ rest: Substring, fail: (String) -> RedisURLError) throws(RedisURLError) -> RedisURL {
        if rest.contains("#") { throw fail("has a fragment (#...); remove it") }
        var path = rest
        var database = 0
        if let q = rest.firstIndex(of: "?") {
            path = rest[..<q]
            for param in rest[rest.index(after: q)...].split(separator: "&", omittingEmptySubsequences: true) {
                let kv = param.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard kv.count == 2, kv[0] == "db" else {
                    throw fail("has an unknown parameter \"\(param)\"; only ?db=N is understood")
                }
                guard let db = parseDatabase(kv[1]) else {
                    throw fail("has an invalid database \"\(kv[1])\"; use a number such as ?db=0")
                }
                database = db
            }
        }
        if path.contains("@") { throw fail("has credentials; give the password through REDIS_PASSWORD or REDIS_PASSWORD_FILE") }
        guard path.hasPrefix("/"), path.count > 1 else {
            throw fail("needs an absolute socket path; write unix:///run/redis/redis.sock")
        }
        // hiredis takes the path as a C string: a NUL (or any control character) would silently cut it.
        if path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw fail("has a control character in the socket path \"\(Self.printable(path))\"")
        }
        // Printed back, trailing space before `?db=` would be trimmed away with the URL's own: refuse it.
        if path.last?.isWhitespace == true {
            throw fail("has a socket path ending in a space; remove the space before ?")
        }
        return RedisURL(endpoint: .unix(path: String(path)), database: database)
    }

    /// `s` with control characters written as `\u{..}` escapes, for messages.
    static func printable(_ s: Substring) -> String {
        s.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined()
    }

    private static func parseDatabase(_ s: Substring) -> Int? {
        guard !s.isEmpty, s.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(s), n <= 1_000_000 else { return nil }
        return n
    }

    private static func decode(_ s: Substring, _ what: String, _ fail: (String) -> RedisURLError) throws(RedisURLError) -> String {
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%") {
                guard it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) else {
                    throw fail("has a bad percent-escape in the \(what)")
                }
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func percentEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            let c = Character(Unicode.Scalar(b))
            if c.isASCII && (c.isLetter || c.isNumber || "-._~".contains(c)) { out.append(c) } else {
                out += "%" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true)
            }
        }
        return out
    }
}

/// The Redis Sentinels in front of the broker, in Celery's (kombu's) broker URL form:
/// `sentinel://[[user]:password@]host[:port][/db];sentinel://host2[:port];...`, the port 26379 by default.
///
/// As in kombu's `SentinelChannel`, every URL names one sentinel, while the database and the Redis
/// (master) credentials come from the first URL only; the master's name is not part of the URL (it is
/// Celery's `broker_transport_options['master_name']`, batchctl's `redis.masterName`).
@MemberwiseInit(.public)
public struct SentinelURL: Sendable, Hashable, CustomStringConvertible {
    /// One sentinel's address.
    public struct Address: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int
        /// `host:port`, IPv6 addresses in brackets.
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// The sentinels, in the order given (they are asked in turn).
    public var sentinels: [Address]
    /// The Redis database number on the master (`SELECT`), from the first URL.
    public var database: Int = 0
    /// The master's ACL user name, from the first URL.
    public var username: String?
    /// The master's password, from the first URL. Never printed.
    public var password: String?

    /// At most this many sentinels (a deployment has three or five).
    public static let maxSentinels = 16

    /// The URL list with any password replaced by `***`, safe to print and log.
    public var description: String {
        var auth = ""
        if username != nil || password != nil {
            auth = (username.map(RedisURL.percentEncode) ?? "") + (password != nil ? ":***" : "") + "@"
        }
        return sentinels.enumerated().map { i, a in
            i == 0 ? "sentinel://\(auth)\(a)/\(database)" : "sentinel://\(a)"
        }.joined(separator: ";")
    }

    /// Whether `text` is in the Sentinel form (starts with `sentinel://`).
    public static func isSentinel(_ text: String) -> Bool {
        text.trimmingWhitespace().lowercased().hasPrefix("sentinel://")
    }

    /// Parses `sentinel://host:26379/0;sentinel://host2:26379;...`, or throws an error naming the part
    /// that is wrong and how to write it.
    public static func parse(_ text: String) throws(RedisURLError) -> SentinelURL {
        func fail(_ problem: String) -> RedisURLError { RedisURLError(input: text, problem: problem) }
        let parts = text.trimmingWhitespace().split(separator: ";", omittingEmptySubsequences: false).map { $0.trimmingWhitespace() }
        guard parts.count <= maxSentinels else {
            throw fail("lists \(parts.count) sentinels; at most \(maxSentinels) are allowed")
        }
        var result = SentinelURL(sentinels: [])
        for (index, part) in parts.enumerated() {
            let ordinal = "sentinel \(index + 1)"
            guard !part.isEmpty else {
                throw fail("has an empty entry (\(ordinal)); separate sentinel URLs with a single ';', e.g. sentinel://s1:26379;sentinel://s2:26379")
            }
            guard let schemeEnd = part.firstRange(of: "://"), part[..<schemeEnd.lowerBound].lowercased() == "sentinel" else {
                throw fail("has \"\(RedisURLError.mask(String(part)))\" as \(ordinal), which is not a sentinel:// URL; every entry must be one, e.g. sentinel://s1:26379;sentinel://s2:26379")
            }
            let url = try RedisURL.parseTCP(part[schemeEnd.upperBound...], scheme: "sentinel", defaultPort: 26379) { problem in
                fail("(\(ordinal)) \(problem)")
            }
            guard case let .tcp(host, port) = url.endpoint else { continue }
            let address = Address(host: host, port: port)
            if result.sentinels.contains(address) {
                throw fail("lists the sentinel \(address) twice; list each sentinel once")
            }
            if index == 0 {
                result.database = url.database
                result.username = url.username
                result.password = url.password
            } else if url.database != 0 || url.username != nil || url.password != nil {
                throw fail("has a database or credentials in \(ordinal); Celery (kombu) reads them from the first URL only, so write them there: sentinel://:password@s1:26379/0;sentinel://s2:26379")
            }
            result.sentinels.append(address)
        }
        return result
    }

    /// What is wrong with `name` as a Sentinel master name, or nil: it must be non-empty, at most 256
    /// bytes, without spaces or control characters (Sentinel's own configuration splits on spaces).
    public static func masterNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "is empty; give the name the sentinels monitor, as in Celery's broker_transport_options master_name (often mymaster)" }
        if name.utf8.count > 256 { return "is longer than 256 bytes" }
        if name.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) {
            return "\"\(RedisURL.printable(Substring(name)))\" contains a space or a control character; use the name from the sentinels' `sentinel monitor` line"
        }
        return nil
    }
}

/// A Redis URL that could not be parsed.
public struct RedisURLError: BatchctlFailure, Equatable {
    /// The URL as given, with any password masked.
    public let input: String
    public let problem: String
    public var kind: FailureKind { .badInput }

    init(input: String, problem: String) {
        // A Sentinel list (`sentinel://...;sentinel://...`) may carry a password in any of its URLs.
        self.input = input.lowercased().hasPrefix("sentinel://")
            ? input.split(separator: ";", omittingEmptySubsequences: false).map { RedisURLError.mask(String($0)) }.joined(separator: ";")
            : RedisURLError.mask(input)
        self.problem = problem
    }
    public var description: String { "\"\(input)\" \(problem)" }

    /// Replaces the password part of `scheme://user:password@host` with `***`.
    static func mask(_ url: String) -> String {
        guard let schemeEnd = url.firstRange(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return url }
        let userinfo = rest[..<at]
        // A lone userinfo (redis://secret@host) is the password itself.
        guard let colon = userinfo.firstIndex(of: ":") else { return String(url[..<schemeEnd.upperBound]) + "***" + rest[at...] }
        return String(url[..<schemeEnd.upperBound]) + userinfo[..<colon] + ":***" + rest[at...]
    }
}
