import Foundation
import LocalProcesses
import MemberwiseInit

/// Real Celery 5.7 producers, workers and Flower from the project's venv, running the fixture app in
/// `Tests/Fixtures/celery` against a test's Redis. Processes are stopped by pid.
@MemberwiseInit(.public)
public struct CeleryFixture: Sendable {
    /// The broker URL (may carry a password).
    public var brokerURL: String
    /// `broker_transport_options` as JSON, e.g. `{"sep": ":", "priority_steps": [0,1,2,3,4,5,6,7,8,9]}`.
    public var transportOptions: String = "{}"
    /// Sets `task_acks_late=True`.
    public var acksLate: Bool = false
    /// Names for `task_queues` (the queues Flower lists before it has seen a worker).
    public var queues: [String] = []

    /// The fixture app's directory.
    public static var directory: String { ProjectPaths.fixtures + "/celery" }

    /// Whether the venv with Celery exists (`make venv`).
    /// Whether the Celery venv exists. Under `make test` (which sets BATCHCTL_REQUIRE_FIXTURES=1 after
    /// creating the venv) this is always true, so a missing venv fails the tests instead of skipping them.
    public static var isAvailable: Bool {
        FileManager.default.isExecutableFile(atPath: ProjectPaths.venvBin + "/celery")
            || ProcessInfo.processInfo.environment["BATCHCTL_REQUIRE_FIXTURES"] == "1"
    }

    var environment: [String: String] {
        ["BROKER_URL": brokerURL, "CELERY_TRANSPORT_OPTIONS": transportOptions, "CELERY_ACKS_LATE": acksLate ? "1" : "0",
         "CELERY_QUEUES": queues.joined(separator: ","),
         "PYTHONPATH": Self.directory, "PYTHONDONTWRITEBYTECODE": "1", "C_FORCE_ROOT": "1"]
    }

    /// Sends tasks with `apply_async`, as described by `spec` (see produce.py), and returns how many.
    @discardableResult
    public func produce(_ spec: String) throws -> Int {
        try runCounting("produce.py", spec, timeout: .seconds(120), naming: "produce.py \(spec)")
    }

    /// Publishes worker events with Celery's own `EventDispatcher`, as `spec` describes (see
    /// hostile_heartbeats.py): hostnames, counts and fields chosen by the test, such as `active` 2^63−1.
    @discardableResult
    public func sendWorkerEvents(_ spec: String) throws -> Int {
        try runCounting("hostile_heartbeats.py", spec, timeout: .seconds(300), naming: "hostile_heartbeats.py")
    }

    /// Runs a fixture script with `spec` and returns the count it prints; `naming` is how a failure names it.
    private func runCounting(_ script: String, _ spec: String, timeout: Duration, naming: String) throws -> Int {
        let r = try Command.run(ProjectPaths.venvPython, [Self.directory + "/" + script, spec], environment: environment,
                                timeout: timeout)
        guard r.status == 0, let n = Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw SupportError("\(naming) failed (\(r.status)): \(r.stderr)")
        }
        return n
    }

    /// Declares a direct exchange bound to `queue` with `routingKey` (kombu writes the binding set).
    public func declareExchange(_ exchange: String, routingKey: String, queue: String) throws {
        let r = try Command.run(ProjectPaths.venvPython, [Self.directory + "/declare_exchange.py", exchange, routingKey, queue],
                                environment: environment, timeout: .seconds(120))
        guard r.status == 0 else { throw SupportError("declare_exchange.py failed (\(r.status)): \(r.stderr)") }
    }

    /// Starts `celery worker` (prefork pool) consuming `queues`, named `hostname`.
    /// - Parameter pool: `prefork` (Celery's default) or `threads` (one process: SIGKILL leaves no orphans).
    public func startWorker(queues: [String], hostname: String, concurrency: Int = 1, prefetchMultiplier: Int = 1,
                            pool: String = "prefork", heartbeatInterval: Int = 2, logDirectory: String) throws -> ChildProcess {
        try ChildProcess(name: "worker-\(hostname)", executable: ProjectPaths.venvBin + "/celery",
                         arguments: ["-A", "app", "worker", "-Q", queues.joined(separator: ","), "--hostname", hostname,
                                     "-P", pool, "-c", String(concurrency), "--prefetch-multiplier", String(prefetchMultiplier),
                                     "--heartbeat-interval", String(heartbeatInterval),
                                     "--without-gossip", "--without-mingle", "-l", "info"],
                         environment: environment, workingDirectory: Self.directory, logDirectory: logDirectory)
    }

    /// Starts Flower on 127.0.0.1:`port` with its API open.
    public func startFlower(port: Int, logDirectory: String) throws -> ChildProcess {
        var env = environment
        env["FLOWER_UNAUTHENTICATED_API"] = "true"
        return try ChildProcess(name: "flower-\(port)", executable: ProjectPaths.venvBin + "/celery",
                                arguments: ["-A", "app", "flower", "--address=127.0.0.1", "--port=\(port)"],
                                environment: env, workingDirectory: Self.directory, logDirectory: logDirectory)
    }
}

/// A tiny HTTP GET for loopback test servers (Flower), via curl(1).
public enum HTTPGet {
    /// Returns the status and body of `GET url`, or throws when curl cannot connect.
    public static func text(_ url: String, timeout: Duration = .seconds(10)) throws -> (status: Int, body: String) {
        let r = try Command.run("/usr/bin/curl", ["-s", "-m", "\(timeout.components.seconds)", "-w", "\n%{http_code}", url],
                                timeout: timeout + .seconds(5))
        guard r.status == 0 else { throw SupportError("curl \(url) failed (\(r.status)): \(r.stderr)") }
        var lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.popLast() ?? "") ?? 0
        return (status, lines.joined(separator: "\n"))
    }
}
