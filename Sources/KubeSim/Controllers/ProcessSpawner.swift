import Foundation
import Posix
#if canImport(Glibc)
import Glibc
#endif

/// Starts pod processes with `posix_spawn`: own process group, default signal dispositions (the server
/// ignores SIGTERM/SIGINT to handle them itself; children must not inherit that), output to a log file.
enum ProcessSpawner {
    /// Spawns a pod's process (see `ProcessSpawn.spawn`) in a process group of its own, its output appended to `logPath`.
    static func spawn(_ argv: [String], environment: [String: String], logPath: String) throws(SpawnError) -> pid_t {
        try ProcessSpawn.spawn(argv, environment: environment.map { "\($0.key)=\($0.value)" }, newProcessGroup: true) { actions in
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
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
