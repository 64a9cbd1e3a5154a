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
        /// Behind Sentinel: none of the sentinels answered.
        case noSentinel
        /// Behind Sentinel: the sentinels that answered know no master by the configured name.
        case unknownMaster
        /// Behind Sentinel: the server a sentinel named as the master says it is a replica (ROLE), or
        /// answered `-READONLY`; the master moved.
        case notMaster
        /// A sentinel refused the sentinel password (or wants one).
        case sentinelAuthenticationFailed
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
        case .noSentinel:
            "none of the Redis Sentinels answered (\(server)): \(detail); check that redis-sentinel runs there and that redis.url lists them as Celery's broker_url does (sentinel://host:26379;sentinel://host2:26379)"
        case .unknownMaster:
            "Redis Sentinel at \(server) answered, but \(detail); set redis.masterName (or --master-name) to the name in the sentinels' `sentinel monitor` line, the same as Celery's broker_transport_options master_name"
        case .notMaster:
            "Redis \(server) is not the master: \(detail); batchctl asks the sentinels again on the next attempt; if this lasts, check the sentinels' view with `redis-cli -p 26379 SENTINEL MASTERS` (a sentinel naming a replica is out of date: `SENTINEL RESET <name>` on it)"
        case .sentinelAuthenticationFailed:
            "Redis Sentinel at \(server) refused authentication (\(detail)); set the sentinels' own password in REDIS_SENTINEL_PASSWORD or REDIS_SENTINEL_PASSWORD_FILE (Celery: broker_transport_options sentinel_kwargs password); the master's password stays in REDIS_PASSWORD"
        }
    }
}
