import ServiceLifecycle

/// The pieces that run on threads of their own (the health server's `poll(2)` loop, the heartbeat listener's
/// blocking hiredis subscription) as Services: the ServiceGroup starts them, and stops them when it shuts down
/// gracefully (in the reverse order of its list) or is cancelled, so no piece outlives the group and a piece that
/// cannot start stops the whole controller with its error.

extension HealthServer: Service {
    /// Serves until the group shuts down. Throws `ThreadStartError` when no thread can be started.
    public func run() async throws {
        try start()
        defer { stop() }
        try? await gracefulShutdown()   // returns on graceful shutdown; throws on cancellation: both mean stop
    }
}

extension RedisObserver: Service {
    /// Listens to worker heartbeats until the group shuts down, then closes both Redis connections.
    public func run() async throws {
        start()
        defer { stop() }
        try? await gracefulShutdown()
    }
}
