import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs a command and times it from spawn to exit exactly: `posix_spawn` and a blocking `waitpid`,
/// no polling (Foundation's `Process.isRunning` can lag behind the exit, which `Command.run` polls).
public enum TimedCommand {
    /// The exit status and the time from spawn to exit.
    public struct Result: Sendable {
        /// The exit code, or 128 + the signal number when a signal ended it.
        public let status: Int32
        public let elapsed: Duration
    }

    /// - Parameters:
    ///   - environment: added to (and overriding) this process's environment.
    ///   - output: file that receives standard output and standard error (truncated first).
    ///   - timeout: the child is killed (SIGKILL) past this; its status is then 137.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           output: String = "/dev/null", timeout: Duration = .seconds(60)) throws -> Result {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Children inherit the signal mask, and concurrency threads block most signals.
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))

        let clock = ContinuousClock()
        let start = clock.now
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard spawned == 0 else { throw SupportError("could not start \(executable): \(String(cString: strerror(spawned)))") }
        let finished = Mutex(false)
        let child = pid
        DispatchQueue.global().asyncAfter(deadline: .now() + Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18) {
            finished.withLock { done in if !done { kill(child, SIGKILL) } }
        }
        // Wait for the exit without reaping, so the watchdog never signals a reused pid; then reap.
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 {
            guard errno == EINTR else { throw SupportError("waitid \(pid) failed: \(String(cString: strerror(errno)))") }
        }
        let elapsed = clock.now - start
        finished.withLock { $0 = true }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw SupportError("waitpid \(pid) failed: \(String(cString: strerror(errno)))") }
        }
        let signal = status & 0x7f
        return Result(status: signal == 0 ? (status >> 8) & 0xff : 128 + signal, elapsed: elapsed)
    }
}
