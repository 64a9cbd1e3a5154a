import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starts pod processes with `posix_spawn`: own process group, default signal dispositions (the server
/// ignores SIGTERM/SIGINT to handle them itself; children must not inherit that), output to a log file.
enum ProcessSpawner {
    struct SpawnError: Error, CustomStringConvertible {
        let description: String
    }

    static func spawn(_ argv: [String], environment: [String: String], logPath: String) throws -> pid_t {
        try spawn(argv, environment: environment.map { "\($0.key)=\($0.value)" }, newProcessGroup: true) { actions in
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
    }

    /// Spawns `argv` with default signal dispositions and an empty mask, the file actions `setUp` adds, and
    /// (with `newProcessGroup`) a process group of its own.
    static func spawn(_ argv: [String], environment: [String], newProcessGroup: Bool,
                      fileActions setUp: (inout posix_spawn_file_actions_t) -> Void) throws -> pid_t {
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
        let rc = cArgs.withUnsafeBufferPointer { args in
            cEnv.withUnsafeBufferPointer { env in
                posix_spawn(&pid, argv[0], &actions, &attributes, args.baseAddress!, env.baseAddress!)
            }
        }
        guard rc == 0 else { throw SpawnError(description: "posix_spawn \(argv[0]): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// Whether `pid` has exited (reaping it); also true if it is not our child any more.
    static func reap(_ pid: pid_t) -> Bool {
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid { return true }
        if r == -1 && errno == ECHILD { return true }
        return false
    }
}
