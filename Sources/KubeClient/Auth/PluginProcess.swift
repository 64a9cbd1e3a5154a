import FoundationEssentials
import Posix
#if canImport(Glibc)
import Glibc
#endif

/// Runs a credential plugin (with `ProcessSpawn`): standard input from /dev/null, standard output and error
/// into files, a deadline after which it is killed. Blocking; call it off the cooperative pool.
struct PluginProcess {
    enum Outcome: Equatable {
        case exited(Int32)
        case signalled(Int32)
        case timedOut
    }

    enum Failure: Error, CustomStringConvertible {
        case spawn(Int32)
        var description: String {
            switch self { case let .spawn(code): String(cString: strerror(code)) }
        }
    }

    /// Runs `executable` with `arguments` and exactly `environment`; output goes to `stdoutPath` and `stderrPath`.
    static func run(_ executable: String, arguments: [String], environment: [String: String],
                    stdoutPath: String, stderrPath: String, timeout: Duration) throws(Failure) -> Outcome {
        let pid: pid_t
        do {
            pid = try ProcessSpawn.spawn([executable] + arguments, environment: environment.map { "\($0.key)=\($0.value)" }) { actions in
                posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
                posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
                posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            }
        } catch {
            throw .spawn(error.code)
        }

        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { return .exited(127) }
            if ContinuousClock.now >= deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                return .timedOut
            }
            usleep(5_000)
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift does not import.
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
    }
}
