#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process could not be started: the executable is missing or not executable, or the system is out
/// of processes or memory.
public struct SpawnError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The executable (`argv[0]`).
    public var executable: String
    /// `posix_spawn`'s error number.
    public var code: Int32
    public var description: String {
        "cannot start \(executable): " + (strerror(code).map { String(cString: $0) } ?? "error \(code)")
    }
}

/// Starts child processes with `posix_spawn` (neither a fork of this multithreaded process nor Foundation's
/// `Process`), so that every part that runs a program (KubeSim's kubelet and CEL helper, exec credential
/// plugins, timed benchmark commands) starts it the same way.
public enum ProcessSpawn {
    /// Spawns `argv` (`argv[0]` is the executable's path) with exactly `environment` (`KEY=value` strings) and
    /// the file actions `setUp` adds. Every signal has its default disposition and none is blocked in the child:
    /// this process ignores some and blocks others (Swift concurrency's threads block most), and a child must
    /// not inherit that. With `newProcessGroup`, the child leads a process group of its own.
    /// - Returns: the child's pid, for `waitpid`.
    /// - Throws: `SpawnError` when `posix_spawn` fails.
    public static func spawn(_ argv: [String], environment: [String], newProcessGroup: Bool = false,
                             fileActions setUp: (inout posix_spawn_file_actions_t) -> Void) throws(SpawnError) -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        var flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
        if newProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        setUp(&actions)

        let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        let cEnv: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer {
            for p in cArgs { free(p) }
            for p in cEnv { free(p) }
        }
        var pid: pid_t = 0
        let executable = argv.first ?? ""
        let rc = posix_spawn(&pid, executable, &actions, &attributes, cArgs, cEnv)
        guard rc == 0 else { throw SpawnError(executable: executable, code: rc) }
        return pid
    }
}
