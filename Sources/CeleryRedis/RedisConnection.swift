import BatchCore
import CHiredis
#if canImport(Glibc)
import Glibc
#endif

/// How to reach and log in to one Redis server.
public struct RedisConnectionOptions: Sendable, Equatable {
    /// Host and port or unix socket, database, ACL user name. A password in the URL is used when
    /// `password` is nil.
    public var url: RedisURL
    /// The password (from `Secrets`), sent with AUTH after every (re)connect.
    public var password: String?
    /// Limit for establishing the TCP or unix-socket connection.
    public var connectTimeout: TimeSpan
    /// Limit for each read or write on the socket once connected.
    public var commandTimeout: TimeSpan
    /// The longest wait between reconnect attempts after failures (the delay doubles from 100 ms).
    public var maxBackoff: TimeSpan

    public init(url: RedisURL, password: String? = nil, connectTimeout: TimeSpan = .seconds(2),
                commandTimeout: TimeSpan = .seconds(2), maxBackoff: TimeSpan = .seconds(5)) {
        self.url = url
        self.password = password
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.maxBackoff = maxBackoff
    }

    /// Options from the configuration and the secrets: the secret password wins over one in the URL.
    public init(settings: RedisSettings, secrets: Secrets) {
        self.init(url: settings.url, password: secrets.redisPassword?.value ?? settings.url.password,
                  connectTimeout: settings.connectTimeout, commandTimeout: settings.commandTimeout)
    }

    /// The server for messages: `host:port` or `unix:/path`. Never includes credentials.
    public var server: String {
        switch url.endpoint {
        case let .tcp(host, port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case let .unix(path): "unix:\(path)"
        }
    }

    /// The effective password: `password`, else the URL's.
    var effectivePassword: String? { password ?? url.password }
}

/// One hiredis connection. Not thread-safe (hiredis contexts are not): confine each instance to one
/// thread. After any connection-level error the context is freed; call `connect()` again.
final class RedisConnection {
    let options: RedisConnectionOptions
    private var context: UnsafeMutablePointer<redisContext>?
    /// Replies read so far (one per flushed batch), for round-trip accounting.
    private(set) var roundTrips = 0

    init(options: RedisConnectionOptions) {
        self.options = options
    }

    deinit { close() }

    var isConnected: Bool { context != nil }

    /// Connects, sets the socket timeouts, then sends AUTH (if a password is set) and SELECT in one
    /// round trip.
    func connect() throws(RedisError) {
        close()
        let tv = Self.timeval(options.connectTimeout)
        let ctx: UnsafeMutablePointer<redisContext>?
        switch options.url.endpoint {
        case let .tcp(host, port): ctx = redisConnectWithTimeout(host, Int32(port), tv)
        case let .unix(path): ctx = redisConnectUnixWithTimeout(path, tv)
        }
        guard let ctx else { throw RedisError(.connectionLost, server: options.server, detail: "hiredis could not allocate a context") }
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
            if let user = options.url.username {
                setup.append([Array("AUTH".utf8), Array(user.utf8), Array(password.utf8)])
            } else {
                setup.append([Array("AUTH".utf8), Array(password.utf8)])
            }
        }
        setup.append([Array("SELECT".utf8), Array(String(options.url.database).utf8)])
        let replies = try pipeline(setup)
        for (command, reply) in zip(setup, replies) {
            guard let message = reply.errorMessage else { continue }
            close()
            if message.hasPrefix("NOAUTH") || message.hasPrefix("WRONGPASS") || message.contains("AUTH")
                || message.contains("invalid password") || message.contains("invalid username-password") {
                throw RedisError(.authenticationFailed, server: options.server, detail: message)
            }
            if command.first == Array("SELECT".utf8) {
                throw RedisError(.badDatabase, server: options.server, detail: message)
            }
            throw RedisError(.reply, server: options.server, detail: message)
        }
    }

    /// Frees the context.
    func close() {
        if let context { redisFree(context) }
        context = nil
    }

    /// Sends `commands` in one write and reads their replies in order: one round trip. Error replies
    /// come back as `.error` values; connection failures throw (and close the connection).
    func pipeline(_ commands: [[[UInt8]]]) throws(RedisError) -> [RedisValue] {
        guard let ctx = context else { throw RedisError(.connectionLost, server: options.server, detail: "not connected") }
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
        guard let ctx = context else { throw RedisError(.connectionLost, server: options.server, detail: "not connected") }
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
        guard let ctx = context else { throw RedisError(.connectionLost, server: options.server, detail: "not connected") }
        if let value = try takeBuffered(ctx) { return value }
        var fd = pollfd(fd: chiredis_fd(ctx), events: Int16(POLLIN), revents: 0)
        let ms = Int32(wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000)
        let ready = poll(&fd, 1, ms)
        if ready < 0 {
            if errno == EINTR { return nil }
            throw RedisError(.connectionLost, server: options.server, detail: String(cString: strerror(errno)))
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
        if code == REDIS_ERR_PROTOCOL { return RedisError(.protocolViolation, server: options.server, detail: message) }
        if message.contains("temporarily unavailable") || message.contains("timed out") {
            return RedisError(.timeout, server: options.server, detail: "no reply within \(options.commandTimeout)")
        }
        return RedisError(.connectionLost, server: options.server, detail: message.isEmpty ? "error \(code)" : message)
    }

    private func connectError(_ ctx: UnsafeMutablePointer<redisContext>) -> RedisError {
        let message = String(cString: chiredis_errstr(ctx))
        if message.contains("refused") || message.contains("No such file") {
            return RedisError(.connectionRefused, server: options.server, detail: message)
        }
        if message.contains("Name or service not known") || message.contains("name resolution")
            || message.contains("No address") || message.contains("nodename nor servname") {
            return RedisError(.unknownHost, server: options.server, detail: message)
        }
        if message.contains("timed out") || message.contains("temporarily unavailable") {
            return RedisError(.timeout, server: options.server, detail: "no connection within \(options.connectTimeout)")
        }
        return RedisError(.connectionRefused, server: options.server, detail: message)
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
