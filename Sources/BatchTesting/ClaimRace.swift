import Foundation

/// N `batchctl claim` processes on one queue, each as its own KubeSim user, all started before any is
/// waited for: the CLI's race test and the chaos suite's race under faults.
public enum ClaimRace {
    /// `user01`, `user02`, ...: the users `users(count:)` defines.
    public static func user(_ i: Int) -> String { String(format: "user%02d", i) }

    /// `count` users (`user01`...) in group `batchctl:users`, for `KubeSimServer.start(deployPolicies:extraUsers:)`.
    public static func users(count: Int) -> [(name: String, groups: [String])] {
        count > 0 ? (1...count).map { (user($0), ["batchctl:users"]) } : []
    }

    /// What each claimer did.
    public struct Outcome: Sendable {
        public let users: [String]
        /// Exit statuses (nil: still running at the timeout, then stopped).
        public let statuses: [Int32?]
        public let stdout: [String]
        public let stderr: [String]

        /// The users whose claim exited 0.
        public var winners: [String] { users.indices.filter { statuses[$0] == 0 }.map { users[$0] } }
    }

    /// Starts `batchctl claim QUEUE --for 2d --reason "race USER" EXTRA... --kubeconfig K --context USER` for every
    /// user at once, waits for all (bounded by `timeout`), and stops any left by pid.
    public static func run(queue: String, users: [String], kubeconfig: String, extraArguments: [String] = [],
                           environment: [String: String], timeout: Duration = .seconds(180)) throws -> Outcome {
        let logs = try TemporaryDirectory(prefix: "race")
        let runs = try users.map { u in
            try ChildProcess(name: "claim-\(u)", executable: ProjectPaths.product("batchctl"),
                             arguments: ["claim", queue, "--for", "2d", "--reason", "race \(u)"] + extraArguments
                                 + ["--kubeconfig", kubeconfig, "--context", u],
                             environment: environment, logDirectory: logs.path)
        }
        let deadline = ContinuousClock.now + timeout
        let statuses = runs.map { $0.waitForExit(timeout: max(.seconds(1), deadline - ContinuousClock.now)) }
        for run in runs { run.stop(grace: .seconds(1)) }
        return Outcome(users: users, statuses: statuses, stdout: runs.map(\.stdout), stderr: runs.map(\.stderr))
    }
}
