import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process (of a test, a benchmark or `kubesim demo`), stopped by its pid: SIGTERM, then SIGKILL after a
/// grace period. Output goes to files in `logDirectory` so a failure can show it.
public final class ChildProcess: @unchecked Sendable {
    public let pid: Int32
    public let name: String
    public let stdoutPath: String
    public let stderrPath: String
    private let process: Process
    private let lock = NSLock()
    private var stopped = false

    /// Starts `executable` with `arguments`.
    /// - Parameters:
    ///   - name: used for log file names and messages.
    ///   - environment: added to (and overriding) the current environment.
    ///   - logDirectory: where `<name>.stdout` and `<name>.stderr` are written.
    public init(name: String, executable: String, arguments: [String], environment: [String: String] = [:],
                workingDirectory: String? = nil, logDirectory: String) throws {
        self.name = name
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
        stdoutPath = "\(logDirectory)/\(name).stdout"
        stderrPath = "\(logDirectory)/\(name).stderr"
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        process.standardInput = FileHandle.nullDevice
        let process = self.process
        try withSignalsUnblocked { try process.run() }
        pid = process.processIdentifier
    }

    /// Whether the process is still running.
    public var isRunning: Bool { process.isRunning }

    /// The exit status once it has exited (the signal's number when a signal ended it).
    public var exitStatus: Int32? { process.isRunning ? nil : process.terminationStatus }

    /// The signal that ended the process, or nil while it runs or when it exited by itself.
    public var terminatingSignal: Int32? {
        process.isRunning || process.terminationReason != .uncaughtSignal ? nil : process.terminationStatus
    }

    /// What it wrote so far. Read while the process writes, the file may end inside a UTF-8 character: such
    /// bytes read as U+FFFD rather than making the whole text empty.
    public var stdout: String { Self.text(stdoutPath) }
    public var stderr: String { Self.text(stderrPath) }

    static func text(_ path: String) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Sends `signal` to the process.
    public func signal(_ signal: Int32) {
        if process.isRunning { kill(pid, signal) }
    }

    /// Stops the process: SIGTERM, then SIGKILL if it is still running after `grace`. Waits for it to exit.
    public func stop(grace: Duration = .seconds(5)) {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        // Foundation's `isRunning` can lag seconds behind the exit; /proc shows it at once.
        while Self.isAlive(pid) && ContinuousClock.now < deadline { usleep(20_000) }
        if Self.isAlive(pid) {
            kill(pid, SIGKILL)
        }
        process.waitUntilExit()
    }

    /// Whether `pid` is running (neither gone nor a zombie waiting to be reaped), read from /proc at once.
    public static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }   // no /proc entry: gone
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }

    /// Waits (bounded) for the process to exit by itself and returns its status, or nil on timeout.
    public func waitForExit(timeout: Duration) -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    deinit { stop(grace: .seconds(1)) }
}

/// Runs a command to completion (bounded by `timeout`) and returns its exit status and output.
public struct CommandResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

public enum Command {
    /// Runs `executable` with `arguments`, waiting at most `timeout`; kills it past that.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           stdin: String? = nil, timeout: Duration = .seconds(60)) throws -> CommandResult {
        let dir = try TemporaryDirectory(prefix: "cmd")
        let child = try ChildProcessWithInput(executable: executable, arguments: arguments, environment: environment,
                                              stdin: stdin, directory: dir.path)
        return child.wait(timeout: timeout)
    }
}

private struct ChildProcessWithInput {
    let process = Process()
    let out: String
    let err: String

    init(executable: String, arguments: [String], environment: [String: String], stdin: String?, directory: String) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        out = directory + "/stdout"
        err = directory + "/stderr"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        if let stdin {
            let inPath = directory + "/stdin"
            _ = FileManager.default.createFile(atPath: inPath, contents: Data(stdin.utf8))
            process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: inPath))
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        try withSignalsUnblocked { try process.run() }
    }

    func wait(timeout: Duration) -> CommandResult {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { usleep(5_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus,
                             stdout: ChildProcess.text(out), stderr: ChildProcess.text(err))
    }
}

/// Runs `body` (which starts a child process) with every signal unblocked on the calling thread.
///
/// A child inherits the signal mask of the thread that spawns it, and Foundation's `Process` does not
/// reset it. Swift concurrency and Dispatch threads block most signals, so without this a child started
/// from a test ignores SIGTERM (redis-server would not shut down, a Celery worker would not warm-stop).
func withSignalsUnblocked<T>(_ body: () throws -> T) rethrows -> T {
    var all = sigset_t()
    var old = sigset_t()
    sigfillset(&all)
    pthread_sigmask(SIG_UNBLOCK, &all, &old)
    defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
    return try body()
}
