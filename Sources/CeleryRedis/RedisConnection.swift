import BatchCore
import CHiredis
import MemberwiseInit
#if canImport(Glibc)
import Glibc
#endif

/// How to reach and log in to one Redis server.
@MemberwiseInit(.public)
public struct RedisConnectionOptions: Sendable, Equatable {
    /// Host and port or unix socket, database, ACL user name. A password in the URL is used when
    /// `password` is nil.
    public var url: RedisURL
    /// The password (from `Secrets`), sent with AUTH after every (re)connect.
    public var password: String?
    /// Limit for establishing the TCP or unix-socket connection.
    public var connectTimeout: TimeSpan = .seconds(2)
    /// Limit for each read or write on the socket once connected.
    public var commandTimeout: TimeSpan = .seconds(2)
    /// The longest wait between reconnect attempts after failures (the delay doubles from 100 ms).
    public var maxBackoff: TimeSpan = .seconds(5)
    /// When set, the server is the master these sentinels name, not `url`'s host and port.
    public var sentinel: SentinelOptions?

    /// Options from the configuration and the secrets: the secret password wins over one in the URL.
    public init(settings: RedisSettings, secrets: Secrets) {
        self.init(url: settings.url, password: secrets.redisPassword?.value ?? settings.url.password,
                  connectTimeout: settings.connectTimeout, commandTimeout: settings.commandTimeout,
                  sentinel: settings.sentinel.map {
                      SentinelOptions(sentinels: $0.url.sentinels, masterName: $0.masterName, password: secrets.sentinelPassword?.value)
                  })
    }

    /// The server for messages: `host:port` or `unix:/path`, or `master NAME via sentinels A, B` behind
    /// Sentinel. Never includes credentials.
    public var server: String {
        if let sentinel { return "master \(sentinel.masterName) via sentinels \(sentinel.sentinels.map(\.description).joined(separator: ", "))" }
        return Self.describe(url.endpoint)
    }

    /// `host:port` (IPv6 in brackets) or `unix:/path`.
    static func describe(_ endpoint: RedisURL.Endpoint) -> String {
        switch endpoint {
        case let .tcp(host, port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case let .unix(path): "unix:\(path)"
        }
    }

    /// The effective password: `password`, else the URL's.
    var effectivePassword: String? { password ?? url.password }
}

/// Redis behind Sentinel: who to ask for the master's address, and how to log in to them.
@MemberwiseInit(.public)
public struct SentinelOptions: Sendable, Equatable {
    /// The sentinels, asked in turn; the one that answered is asked first next time.
    public var sentinels: [SentinelURL.Address]
    /// The name the sentinels monitor the master under.
    public var masterName: String
    /// The sentinels' own password (their `requirepass`), sent with AUTH; the master's is separate.
    public var password: String?
}

/// One hiredis connection. Not thread-safe (hiredis contexts are not): confine each instance to one
/// thread. After any connection-level error the context is freed; call `connect()` again.
final class RedisConnection {
    /// What the connection talks to: a Redis server (AUTH and SELECT on connect), or a sentinel (AUTH only).
    enum Peer {
        case redis
        case sentinel
    }

    let options: RedisConnectionOptions
    private let peer: Peer
    private var context: UnsafeMutablePointer<redisContext>?
    /// Replies read so far (one per flushed batch), for round-trip accounting.
    private(set) var roundTrips = 0
    /// The server connected to (or last tried): `options.url`'s, or the master the sentinels named.
    private(set) var endpoint: RedisURL.Endpoint
    /// Behind Sentinel: the sentinel that named the current master, and the sentinels in the order to ask
    /// them (the last one that answered first, as the Sentinel client spec says).
    private(set) var resolvedVia: SentinelURL.Address?
    private var sentinelOrder: [SentinelURL.Address]
    /// A connection to `sentinelOrder[0]`, kept to confirm the master before each use.
    private var sentinelConnection: RedisConnection?
    /// The most a connection to a sentinel may take.
    static let sentinelConnectTimeout = TimeSpan.milliseconds(500)

    init(options: RedisConnectionOptions, peer: Peer = .redis) {
        self.options = options
        self.peer = peer
        endpoint = options.url.endpoint
        sentinelOrder = options.sentinel?.sentinels ?? []
    }

    deinit {
        close()
        sentinelConnection?.close()
    }

    var isConnected: Bool { context != nil }

    /// The server for messages: the connected (or last tried) one. Never includes credentials.
    var server: String { RedisConnectionOptions.describe(endpoint) }

    /// Connects (behind Sentinel: to the master the sentinels name, checked with ROLE), sets the socket
    /// timeouts, then sends AUTH (if a password is set) and SELECT in one round trip.
    func connect() throws(RedisError) {
        if let sentinel = options.sentinel, peer == .redis {
            try connectThroughSentinels(sentinel)
        } else {
            _ = try connect(to: endpoint, checkRole: false)
        }
    }

    /// Connects to `target`; returns the role it reports when `checkRole` (nil when ROLE is not understood).
    private func connect(to target: RedisURL.Endpoint, checkRole: Bool) throws(RedisError) -> String? {
        close()
        endpoint = target
        let tv = Self.timeval(options.connectTimeout)
        let ctx: UnsafeMutablePointer<redisContext>?
        switch target {
        case let .tcp(host, port): ctx = redisConnectWithTimeout(host, Int32(port), tv)
        case let .unix(path): ctx = redisConnectUnixWithTimeout(path, tv)
        }
        guard let ctx else { throw RedisError(.connectionLost, server: server, detail: "hiredis could not allocate a context") }
        context = ctx
        if chiredis_err(ctx) != 0 {
            let error = connectError(ctx)
            close()
            throw error
        }
        guard redisSetTimeout(ctx, Self.timeval(options.commandTimeout)) == REDIS_OK else {
            let error = ioError(ctx)
            close()
            throw error
        }
        var setup: [[[UInt8]]] = []
        if let password = options.effectivePassword {
            if let user = options.url.username, peer == .redis {
                setup.append([Array("AUTH".utf8), Array(user.utf8), Array(password.utf8)])
            } else {
                setup.append([Array("AUTH".utf8), Array(password.utf8)])
            }
        }
        if peer == .redis { setup.append([Array("SELECT".utf8), Array(String(options.url.database).utf8)]) }
        if checkRole { setup.append([Array("ROLE".utf8)]) }
        guard !setup.isEmpty else { return nil }
        let replies = try rawPipeline(setup)
        for (command, reply) in zip(setup, replies) {
            guard let message = reply.errorMessage else { continue }
            if command.first == Array("ROLE".utf8) { return nil }   // a server without ROLE (before 2.8.12)
            close()
            if message.hasPrefix("NOAUTH") || message.hasPrefix("WRONGPASS") || message.contains("AUTH")
                || message.contains("invalid password") || message.contains("invalid username-password") {
                throw RedisError(peer == .sentinel ? .sentinelAuthenticationFailed : .authenticationFailed, server: server, detail: message)
            }
            if command.first == Array("SELECT".utf8) {
                throw RedisError(.badDatabase, server: server, detail: message)
            }
            throw RedisError(.reply, server: server, detail: message)
        }
        return checkRole ? replies.last.flatMap(Self.role) : nil
    }

    /// The role in a ROLE reply (`master`, `slave`, `sentinel`), or nil.
    private static func role(_ reply: RedisValue) -> String? {
        reply.array?.first?.text
    }

    // MARK: Sentinel

    /// Asks the sentinels in turn for the master's address (`SENTINEL get-master-addr-by-name`), connects
    /// to it and checks that it says it is a master (`ROLE`), as the Sentinel client spec describes. The
    /// sentinel that answered moves to the front of the list.
    /// - Throws: the most useful error when no sentinel leads to a master: `.notMaster` when one named a
    ///   replica, `.unknownMaster` when they do not know the name, the master's own error when it could
    ///   not be reached or refused the login, `.noSentinel` when none answered.
    private func connectThroughSentinels(_ sentinel: SentinelOptions) throws(RedisError) {
        close()
        var unreachable: [String] = []
        var unknown: [String] = []
        var replicas: [String] = []
        var masterFailure: RedisError?
        var refusedLogin: RedisError?
        for (index, address) in sentinelOrder.enumerated() {
            let named: RedisURL.Endpoint?
            do {
                named = try askSentinel(address, sentinel: sentinel)
            } catch {
                if error.reason == .sentinelAuthenticationFailed { refusedLogin = error }
                unreachable.append("\(address): \(error.detail)")
                continue
            }
            guard let named else {
                unknown.append(address.description)
                continue
            }
            let role: String?
            do {
                role = try connect(to: named, checkRole: true)
            } catch {
                // A wrong password or database is the same whichever sentinel named the master.
                if error.reason == .authenticationFailed || error.reason == .badDatabase { throw error }
                masterFailure = RedisError(error.reason, server: error.server,
                                           detail: "\(error.detail) (named as master \(sentinel.masterName) by sentinel \(address))")
                continue
            }
            if let role, role != "master" {
                close()
                replicas.append("sentinel \(address) named \(RedisConnectionOptions.describe(named)), which answers ROLE with \(role)")
                continue
            }
            resolvedVia = address
            if index != 0 {
                sentinelOrder.swapAt(0, index)
                sentinelConnection?.close()
                sentinelConnection = nil
            }
            return
        }
        resolvedVia = nil
        let asked = sentinelOrder.map(\.description).joined(separator: ", ")
        if !replicas.isEmpty {
            throw RedisError(.notMaster, server: "master \(sentinel.masterName)", detail: replicas.joined(separator: "; "))
        }
        if let masterFailure { throw masterFailure }
        if let refusedLogin, unknown.isEmpty { throw refusedLogin }
        if !unknown.isEmpty {
            let rest = unreachable.isEmpty ? "" : "; unreachable: " + unreachable.joined(separator: "; ")
            throw RedisError(.unknownMaster, server: "sentinel \(unknown.joined(separator: ", "))",
                             detail: "no master named \"\(sentinel.masterName)\"\(rest)")
        }
        throw RedisError(.noSentinel, server: "sentinels \(asked)", detail: unreachable.joined(separator: "; "))
    }

    /// The master's address by the sentinel at `address`, or nil when it does not know the name.
    private func askSentinel(_ address: SentinelURL.Address, sentinel: SentinelOptions) throws(RedisError) -> RedisURL.Endpoint? {
        let connection: RedisConnection
        if let kept = sentinelConnection, kept.isConnected, kept.endpoint == .tcp(host: address.host, port: address.port) {
            connection = kept
        } else {
            sentinelConnection?.close()
            var sentinelOptions = options
            sentinelOptions.url = RedisURL(endpoint: .tcp(host: address.host, port: address.port))
            sentinelOptions.password = sentinel.password
            sentinelOptions.sentinel = nil
            // A short limit, as the Sentinel client spec advises: a sentinel that does not answer soon is skipped.
            sentinelOptions.connectTimeout = min(options.connectTimeout, Self.sentinelConnectTimeout)
            connection = RedisConnection(options: sentinelOptions, peer: .sentinel)
            try connection.connect()
            // Keep the connection to the first sentinel only: the one asked before each use.
            sentinelConnection = address == sentinelOrder.first ? connection : nil
        }
        let replies = try connection.rawPipeline([["SENTINEL", "get-master-addr-by-name", sentinel.masterName].map { Array($0.utf8) }])
        guard let reply = replies.first else { throw RedisError(.protocolViolation, server: connection.server, detail: "no reply") }
        if let message = reply.errorMessage {
            connection.close()
            if message.hasPrefix("NOAUTH") || message.hasPrefix("WRONGPASS") {
                throw RedisError(.sentinelAuthenticationFailed, server: connection.server, detail: message)
            }
            throw RedisError(.reply, server: connection.server,
                             detail: message.contains("unknown command") || message.contains("Unknown sentinel")
                                 ? "\(message) (is this a sentinel? Redis servers listen on 6379, sentinels on 26379)" : message)
        }
        if reply == .null { return nil }
        guard let parts = reply.array, parts.count == 2, let host = parts[0].text, let portText = parts[1].text,
              let port = Int(portText), (1...65535).contains(port), !host.isEmpty, host.utf8.count <= 255 else {
            connection.close()
            throw RedisError(.protocolViolation, server: connection.server, detail: "SENTINEL get-master-addr-by-name returned \(reply)")
        }
        return .tcp(host: host, port: port)
    }

    /// Behind Sentinel, asks the first sentinel whether the connected server is still the master;
    /// false when it names another one (a failover happened: reconnect). A sentinel that cannot be
    /// asked goes to the back of the list and the answer is true: the ROLE check on every pipeline
    /// still notices a demoted master.
    func confirmMaster() -> Bool {
        guard let sentinel = options.sentinel, peer == .redis, isConnected, let first = sentinelOrder.first else { return true }
        do {
            guard let named = try askSentinel(first, sentinel: sentinel) else { return false }
            return named == endpoint
        } catch {
            sentinelConnection?.close()
            sentinelConnection = nil
            sentinelOrder.append(sentinelOrder.removeFirst())
            return true
        }
    }

    /// Frees the context.
    func close() {
        if let context { redisFree(context) }
        context = nil
    }

    /// Sends `commands` in one write and reads their replies in order: one round trip. Error replies
    /// come back as `.error` values; connection failures throw (and close the connection).
    ///
    /// Behind Sentinel, `ROLE` goes along in the same round trip; when the server no longer says it is the
    /// master, or any reply is `-READONLY`, the connection is closed and `.notMaster` thrown, so the next
    /// call asks the sentinels again.
    func pipeline(_ commands: [[[UInt8]]]) throws(RedisError) -> [RedisValue] {
        guard options.sentinel != nil, peer == .redis, !commands.isEmpty else { return try rawPipeline(commands) }
        var replies = try rawPipeline(commands + [[Array("ROLE".utf8)]])
        let roleReply = replies.removeLast()
        let role = Self.role(roleReply)
        if let role, role != "master" {
            close()
            throw RedisError(.notMaster, server: server,
                             detail: "it now answers ROLE with \(role) (named by sentinel \(resolvedVia?.description ?? "?")); a failover moved the master")
        }
        if let readOnly = replies.lazy.compactMap(\.errorMessage).first(where: { $0.hasPrefix("READONLY") }) {
            close()
            throw RedisError(.notMaster, server: server, detail: readOnly)
        }
        return replies
    }

    private func rawPipeline(_ commands: [[[UInt8]]]) throws(RedisError) -> [RedisValue] {
        guard let ctx = context else { throw RedisError(.connectionLost, server: server, detail: "not connected") }
        guard !commands.isEmpty else { return [] }
        for command in commands {
            guard Self.append(ctx, command) else { throw fail(ctx) }
        }
        roundTrips += 1
        var replies: [RedisValue] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(ctx, &raw) == REDIS_OK, let raw else { throw fail(ctx) }
            let reply = raw.assumingMemoryBound(to: redisReply.self)
            let value = Self.convert(reply)
            freeReplyObject(raw)
            replies.append(value)
        }
        return replies
    }

    /// Sends commands without waiting for replies (used to subscribe).
    func send(_ commands: [[[UInt8]]]) throws(RedisError) {
        guard let ctx = context else { throw RedisError(.connectionLost, server: server, detail: "not connected") }
        for command in commands {
            guard Self.append(ctx, command) else { throw fail(ctx) }
        }
        var done: Int32 = 0
        while done == 0 {
            guard redisBufferWrite(ctx, &done) == REDIS_OK else { throw fail(ctx) }
        }
    }

    /// Returns the next reply pushed by the server (pub/sub), waiting at most `wait`; nil if none came.
    /// Unlike a socket timeout, an expired wait leaves the connection usable.
    func nextPush(wait: Duration) throws(RedisError) -> RedisValue? {
        guard let ctx = context else { throw RedisError(.connectionLost, server: server, detail: "not connected") }
        if let value = try takeBuffered(ctx) { return value }
        var fd = pollfd(fd: chiredis_fd(ctx), events: Int16(POLLIN), revents: 0)
        let ms = Int32(wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000)
        let ready = poll(&fd, 1, ms)
        if ready < 0 {
            if errno == EINTR { return nil }
            throw RedisError(.connectionLost, server: server, detail: String(cString: strerror(errno)))
        }
        if ready == 0 { return nil }
        guard redisBufferRead(ctx) == REDIS_OK else { throw fail(ctx) }
        return try takeBuffered(ctx)
    }

    private func takeBuffered(_ ctx: UnsafeMutablePointer<redisContext>) throws(RedisError) -> RedisValue? {
        var raw: UnsafeMutableRawPointer?
        guard redisGetReplyFromReader(ctx, &raw) == REDIS_OK else { throw fail(ctx) }
        guard let raw else { return nil }
        let value = Self.convert(raw.assumingMemoryBound(to: redisReply.self))
        freeReplyObject(raw)
        return value
    }

    /// The error for a failed call on `ctx`; the context is dead afterwards, so it is freed.
    private func fail(_ ctx: UnsafeMutablePointer<redisContext>) -> RedisError {
        let error = ioError(ctx)
        close()
        return error
    }

    private func ioError(_ ctx: UnsafeMutablePointer<redisContext>) -> RedisError {
        let message = String(cString: chiredis_errstr(ctx))
        let code = chiredis_err(ctx)
        if code == REDIS_ERR_PROTOCOL { return RedisError(.protocolViolation, server: server, detail: message) }
        if message.contains("temporarily unavailable") || message.contains("timed out") {
            return RedisError(.timeout, server: server, detail: "no reply within \(options.commandTimeout)")
        }
        return RedisError(.connectionLost, server: server, detail: message.isEmpty ? "error \(code)" : message)
    }

    private func connectError(_ ctx: UnsafeMutablePointer<redisContext>) -> RedisError {
        let message = String(cString: chiredis_errstr(ctx))
        if message.contains("refused") || message.contains("No such file") {
            return RedisError(.connectionRefused, server: server, detail: message)
        }
        if message.contains("Name or service not known") || message.contains("name resolution")
            || message.contains("No address") || message.contains("nodename nor servname") {
            return RedisError(.unknownHost, server: server, detail: message)
        }
        if message.contains("timed out") || message.contains("temporarily unavailable") {
            return RedisError(.timeout, server: server, detail: "no connection within \(options.connectTimeout)")
        }
        return RedisError(.connectionRefused, server: server, detail: message)
    }

    /// Appends one command (binary-safe argv) to the context's output buffer.
    private static func append(_ ctx: UnsafeMutablePointer<redisContext>, _ args: [[UInt8]]) -> Bool {
        var flat: [UInt8] = []
        var lengths: [Int] = []
        lengths.reserveCapacity(args.count)
        for arg in args {
            flat.append(contentsOf: arg)
            lengths.append(arg.count)
        }
        if flat.isEmpty { flat.append(0) }   // keep a valid base address for empty arguments
        return flat.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars -> Bool in
                guard let base = chars.baseAddress else { return false }
                var pointers: [UnsafePointer<CChar>?] = []
                pointers.reserveCapacity(lengths.count)
                var offset = 0
                for length in lengths {
                    pointers.append(base + offset)
                    offset += length
                }
                return pointers.withUnsafeMutableBufferPointer { argv in
                    lengths.withUnsafeBufferPointer { argvlen in
                        redisAppendCommandArgv(ctx, Int32(args.count), argv.baseAddress, argvlen.baseAddress) == REDIS_OK
                    }
                }
            }
        }
    }

    /// Copies a hiredis reply into a `RedisValue` (the caller frees the reply).
    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            guard let str = r.str else { return .string([]) }
            return .string(str.withMemoryRebound(to: UInt8.self, capacity: r.len) { Array(UnsafeBufferPointer(start: $0, count: r.len)) })
        case REDIS_REPLY_STATUS:
            return .status(r.str.map { String(cString: $0) } ?? "")
        case REDIS_REPLY_ERROR:
            return .error(r.str.map { String(cString: $0) } ?? "")
        case REDIS_REPLY_INTEGER:
            return .integer(r.integer)
        case REDIS_REPLY_NIL:
            return .null
        case REDIS_REPLY_ARRAY:
            guard let elements = r.element else { return .array([]) }
            var values: [RedisValue] = []
            values.reserveCapacity(r.elements)
            for k in 0..<r.elements {
                if let e = elements[k] { values.append(convert(e)) } else { values.append(.null) }
            }
            return .array(values)
        default:
            return .error("unknown reply type \(r.type)")
        }
    }

    private static func timeval(_ span: TimeSpan) -> Glibc.timeval {
        Glibc.timeval(tv_sec: Int(span.milliseconds / 1000), tv_usec: Int((span.milliseconds % 1000) * 1000))
    }
}
