import BatchCore

/// A failure talking to Redis, with a message that names the server and what to check.
/// Never contains a password.
public struct RedisError: BatchctlFailure, Equatable {
    /// What went wrong.
    public enum Reason: Sendable, Equatable {
        /// Nothing listens at the address (ECONNREFUSED), or the unix socket is missing.
        case connectionRefused
        /// The host name does not resolve.
        case unknownHost
        /// Connecting or waiting for a reply took longer than the configured timeout.
        case timeout
        /// The server refused the credentials (WRONGPASS) or wants some (NOAUTH).
        case authenticationFailed
        /// The server closed the connection or another I/O error happened mid-command.
        case connectionLost
        /// The server answered a command with an error reply (WRONGTYPE, ERR ...).
        case reply
        /// The reply did not have the expected shape.
        case protocolViolation
        /// The database number was refused by SELECT.
        case badDatabase
    }

    /// The kind of failure, for callers that react differently (e.g. retry on `.connectionLost`).
    public let reason: Reason
    /// The server, as printed (`127.0.0.1:6379`, `unix:/run/redis.sock`).
    public let server: String
    /// What the server or hiredis said.
    public let detail: String

    public init(_ reason: Reason, server: String, detail: String) {
        self.reason = reason
        self.server = server
        self.detail = detail
    }

    /// Always a runtime failure (exit status 1).
    public var kind: FailureKind { .runtime }

    /// Whether the connection is unusable after this error (hiredis contexts are dead after any I/O
    /// error), so the next call must reconnect.
    public var breaksConnection: Bool { reason != .reply }

    /// One sentence: what failed, at which server, and what to check.
    public var description: String {
        switch reason {
        case .connectionRefused:
            "cannot connect to Redis at \(server): \(detail); check that Redis is running there and that the URL (--redis-url or redis.url in the config) names the right host and port"
        case .unknownHost:
            "cannot connect to Redis at \(server): the host name does not resolve (\(detail)); check the host in --redis-url or redis.url"
        case .timeout:
            "Redis at \(server) did not answer in time (\(detail)); check the network path to it, or raise redis.connectTimeout / redis.commandTimeout"
        case .authenticationFailed:
            "Redis at \(server) refused authentication (\(detail)); check REDIS_PASSWORD or REDIS_PASSWORD_FILE (and the ACL user name in the URL, if any)"
        case .connectionLost:
            "lost the connection to Redis at \(server): \(detail); it will reconnect on the next attempt"
        case .reply:
            "Redis at \(server) answered with an error: \(detail)"
        case .protocolViolation:
            "unexpected reply from Redis at \(server): \(detail)"
        case .badDatabase:
            "Redis at \(server) refused the database number: \(detail); check the /N at the end of the Redis URL"
        }
    }
}
