import BatchCore
import BatchTesting
import CeleryRedis

/// Connection options for a test Redis.
func options(_ server: RedisServer, password: String? = nil, database: Int = 0, username: String? = nil,
             maxBackoff: TimeSpan = .milliseconds(200)) -> RedisConnectionOptions {
    RedisConnectionOptions(url: RedisURL(endpoint: .tcp(host: "127.0.0.1", port: server.port), database: database, username: username),
                           password: password ?? server.password, connectTimeout: .seconds(5), commandTimeout: .seconds(10),
                           maxBackoff: maxBackoff)
}

/// `INFO` field `name` (e.g. `total_commands_processed`) of a test Redis.
func infoField(_ server: RedisServer, _ name: String) throws -> Int {
    let info = try server.cli(["INFO", "stats"])
    for line in info.split(whereSeparator: \.isNewline) where line.hasPrefix(name + ":") {
        if let n = Int(line.dropFirst(name.count + 1)) { return n }
    }
    throw SupportError("no \(name) in INFO")
}

/// A probe result keyed by queue name.
extension QueueProbeResult {
    subscript(_ name: String) -> QueueReading? { queues.first { $0.name == name } }
}

/// `Wait.until` for a synchronous condition, sleeping between polls without blocking a thread of the
/// cooperative pool.
func eventually(timeout: Duration, interval: Duration = .milliseconds(100), _ condition: () throws -> Bool) async rethrows -> Bool {
    try await Wait.until(timeout: timeout, interval: interval) { () async throws -> Bool in try condition() }
}
