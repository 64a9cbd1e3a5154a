import BatchCore
import MemberwiseInit
import Posix
import Synchronization

/// Counters kept by a `RedisClient`, readable from any thread.
public final class RedisStats: Sendable {
    private let _roundTrips = Atomic<Int>(0)
    private let _connects = Atomic<Int>(0)

    public init() {}

    /// Request/reply round trips for commands (a pipeline counts once), not counting connection setup.
    public var roundTrips: Int { _roundTrips.load(ordering: .relaxed) }
    /// Successful connects (each sends AUTH and SELECT in one extra round trip).
    public var connects: Int { _connects.load(ordering: .relaxed) }

    func addRoundTrips(_ n: Int) { _roundTrips.add(n, ordering: .relaxed) }
    func addConnect() { _connects.add(1, ordering: .relaxed) }
}

/// The server a client last read from and, behind Sentinel, the sentinel that named it.
@MemberwiseInit(.public)
public struct RedisSource: Sendable, Equatable {
    /// `host:port` or `unix:/path`.
    public var server: String
    /// The sentinel (`host:port`) that named `server` as the master; nil without Sentinel.
    public var sentinel: String?
}

/// A Redis client whose blocking hiredis calls run on its own dedicated thread.
///
/// It connects lazily, sends AUTH and SELECT after every (re)connect, drops the connection after any
/// connection-level error (a hiredis context is dead after one), and reconnects on the next call. After
/// failures, reconnect attempts wait 100 ms, 200 ms, 400 ms, … up to `maxBackoff`; calls in between fail
/// at once with the last error. A command on a connection that had been idle and turns out to be broken
/// is retried once on a fresh connection.
///
/// Behind Sentinel (`options.sentinel`), it connects to the master the sentinels name (checked with ROLE),
/// asks the first sentinel before each call whether that is still the master, sends ROLE along with every
/// pipeline, and on a failover (another master named, ROLE says replica, `-READONLY`, or the connection
/// dropped) asks the sentinels again and retries once on the new master.
public final class RedisClient: Sendable {
    /// The server, for messages (`host:port` or `unix:/path`; behind Sentinel, the master name and sentinels).
    public let server: String
    /// Round trips and connects so far.
    public let stats = RedisStats()
    private let thread: ConfinedThread<RedisSession>
    private let lastSource = Mutex<RedisSource?>(nil)

    public init(options: RedisConnectionOptions) {
        server = options.server
        let stats = self.stats
        thread = ConfinedThread(name: "redis \(options.server)") { RedisSession(options: options, stats: stats) }
    }

    /// The server the last successful call read from, and the sentinel that named it; nil before one.
    public var source: RedisSource? { lastSource.withLock { $0 } }

    /// Sends `commands` in one pipelined round trip and returns one reply per command. Error replies
    /// (e.g. WRONGTYPE) are returned as `.error` values, so one bad key does not hide the others.
    ///
    /// When a connection kept from an earlier call turns out to be closed, the commands are sent once
    /// more on a fresh connection: send only commands that are safe to repeat (batchctl sends reads).
    /// - Throws: `RedisError` when the connection cannot be made or breaks.
    public func pipeline(_ commands: [[[UInt8]]]) async throws(RedisError) -> [RedisValue] {
        let (replies, source) = try await thread.run({ session in
            session.perform { conn throws(RedisError) in
                (try conn.pipeline(commands), RedisSource(server: conn.server, sentinel: conn.resolvedVia?.description))
            }
        }, stopped: closedError)
        lastSource.withLock { $0 = source }
        return replies
    }

    /// Sends one command (UTF-8 arguments) and returns its reply, throwing on an error reply.
    public func command(_ arguments: [String]) async throws(RedisError) -> RedisValue {
        let replies = try await pipeline([arguments.map { Array($0.utf8) }])
        guard let reply = replies.first else { throw RedisError(.protocolViolation, server: server, detail: "no reply") }
        if let message = reply.errorMessage { throw RedisError(.reply, server: server, detail: message) }
        return reply
    }

    /// Stops the thread after queued calls finish and closes the connection.
    public func close() { thread.stop() }

    private func closedError(_ startFailure: ThreadStartError?) -> RedisError {
        RedisError(.connectionLost, server: server, detail: startFailure.map(\.description) ?? "the client was closed")
    }
}

/// The connection and its reconnect state; lives on the client's thread only.
final class RedisSession {
    private let connection: RedisConnection
    private let stats: RedisStats
    private var failures = 0
    private var nextAttempt = ContinuousClock.now
    private var lastError: RedisError?

    init(options: RedisConnectionOptions, stats: RedisStats) {
        connection = RedisConnection(options: options)
        self.stats = stats
    }

    /// Runs `body` on a connected connection, connecting (with backoff) first when needed. Behind
    /// Sentinel, a kept connection is first confirmed with the sentinel (a failover closes it).
    func perform<T>(_ body: (RedisConnection) throws(RedisError) -> T) -> Result<T, RedisError> {
        if connection.isConnected && !connection.confirmMaster() { connection.close() }
        var mayRetry = connection.isConnected
        while true {
            if !connection.isConnected {
                if let lastError, ContinuousClock.now < nextAttempt { return .failure(lastError) }
                do {
                    try connection.connect()
                    stats.addConnect()
                } catch {
                    return .failure(recordFailure(error))
                }
            }
            let before = connection.roundTrips
            do {
                let value = try body(connection)
                stats.addRoundTrips(connection.roundTrips - before)
                failures = 0
                lastError = nil
                return .success(value)
            } catch {
                stats.addRoundTrips(connection.roundTrips - before)
                if error.breaksConnection { connection.close() }
                // A connection kept from an earlier call may have been closed by the server meanwhile.
                // Or it is no longer the master (after a failover): ask the sentinels again at once.
                if mayRetry && (error.reason == .connectionLost || error.reason == .notMaster) {
                    mayRetry = false
                    continue
                }
                return .failure(error.breaksConnection ? recordFailure(error) : error)
            }
        }
    }

    private func recordFailure(_ error: RedisError) -> RedisError {
        failures += 1
        var backoff = ExponentialBackoff(initial: .milliseconds(100), maximum: connection.options.maxBackoff.duration)
        // A replica where the master should be is a failover in progress: look again soon.
        if error.reason == .notMaster { backoff.maximum = min(backoff.maximum, .milliseconds(500)) }
        nextAttempt = ContinuousClock.now + backoff.delay(attempt: failures)
        lastError = error
        return error
    }
}
