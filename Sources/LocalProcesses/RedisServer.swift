import Foundation

/// A real `redis-server` on a free loopback port (no persistence), started for one test or the demo and stopped by its pid.
public final class RedisServer: @unchecked Sendable {
    public let port: Int
    public let password: String?
    public let unixSocket: String
    public let directory: TemporaryDirectory
    private var child: ChildProcess?

    /// Starts redis-server.
    /// - Parameters:
    ///   - password: sets `requirepass`.
    ///   - extraArguments: more `--option value` pairs, such as `["--maxmemory", "10mb"]`.
    ///   - parent: where its working directory is created (default: the system's temporary directory).
    public init(password: String? = nil, extraArguments: [String] = [], in parent: String? = nil) throws {
        directory = try TemporaryDirectory(prefix: "redis", in: parent)
        port = try FreePort.next()
        self.password = password
        unixSocket = directory.path + "/redis.sock"
        self.extraArguments = extraArguments
        try start()
    }

    private let extraArguments: [String]

    /// The URL to reach it (without the password).
    public var url: String { "redis://127.0.0.1:\(port)/0" }

    public var isRunning: Bool { child?.isRunning ?? false }

    /// The server's pid while it runs.
    public var pid: Int32? { child?.pid }

    /// Starts (or restarts) the server on the same port.
    public func start() throws {
        var args = ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--dir", directory.path, "--unixsocket", unixSocket, "--unixsocketperm", "700",
                    "--daemonize", "no", "--protected-mode", "no", "--loglevel", "warning"]
        if let password { args += ["--requirepass", password] }
        args += extraArguments
        let serverPath = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let serverPath else { throw SupportError("redis-server is not installed; run `make deps`") }
        child = try ChildProcess(name: "redis-\(port)", executable: serverPath, arguments: args, logDirectory: directory.path)
        guard Wait.until(timeout: .seconds(10), { FreePort.isListening(port) }) else {
            let log = child?.stderr ?? ""
            stop()
            throw SupportError("redis-server did not start on port \(port): \(log)")
        }
    }

    /// Stops the server (SIGTERM, then SIGKILL).
    public func stop() {
        child?.stop(grace: .seconds(5))
        child = nil
    }

    /// Runs `redis-cli` against this server and returns its output (for test setup and checks).
    @discardableResult
    public func cli(_ arguments: [String]) throws -> String {
        var args = ["-h", "127.0.0.1", "-p", "\(port)", "--no-auth-warning"]
        if let password { args += ["-a", password] }
        let result = try Command.run("/usr/bin/redis-cli", args + arguments, timeout: .seconds(20))
        guard result.status == 0 else { throw SupportError("redis-cli \(arguments) failed: \(result.stderr)") }
        return result.stdout
    }

    deinit { stop() }
}
