import Dispatch
import Foundation
import Posix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs a command and times it from spawn to exit exactly: `ProcessSpawn` and a blocking `waitpid`,
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
        let clock = ContinuousClock()
        let start = clock.now
        let pid: pid_t
        do {
            pid = try ProcessSpawn.spawn([executable] + arguments, environment: env.map { "\($0.key)=\($0.value)" }) { actions in
                posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
                posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                posix_spawn_file_actions_adddup2(&actions, 1, 2)
            }
        } catch {
            throw SupportError("\(error)")
        }
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
