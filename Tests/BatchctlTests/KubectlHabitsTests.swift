import BatchTesting
import Foundation
import Testing

/// kubectl habits: cluster options on either side of the subcommand, and batchctl as the kubectl plugin
/// `kubectl batchctl` (a `kubectl-batchctl` link on PATH).
@Suite struct KubectlHabitsTests {
    /// Runs batchctl with the cluster options before the subcommand (`batchctl -n NS --kubeconfig K --context U -v SUB ...`).
    func before(_ f: ClusterFixture, _ arguments: [String], as user: String = "alice") throws -> CommandResult {
        try Command.run(ClusterFixture.batchctl, ["-n", ClusterFixture.namespace, "-v"] + f.flags(user) + arguments,
                        environment: f.environment, timeout: .seconds(60))
    }

    /// Runs batchctl with the same cluster options after the subcommand.
    func after(_ f: ClusterFixture, _ arguments: [String], as user: String = "alice") throws -> CommandResult {
        try f.batchctl(arguments + ["--namespace", ClusterFixture.namespace, "--verbose"], as: user)
    }

    /// The output with the expiry left out (two writes a moment apart may differ by a minute).
    func timeless(_ text: String) -> String {
        text.replacingOccurrences(of: #"until [0-9-]+ [0-9:]+ UTC \([^)]*\)"#, with: "until <expiry>", options: .regularExpression)
    }

    func expectSame(_ a: CommandResult, _ b: CommandResult, _ what: String) {
        #expect(a.status == 0, "\(what) after: \(a.stderr)")
        #expect(b.status == a.status, "\(what) before: \(b.stderr)")
        #expect(timeless(b.stdout) == timeless(a.stdout), "\(what)")
        // -v took effect on both sides: the verbose log names the namespace.
        #expect(a.stderr.contains("namespace \(ClusterFixture.namespace)") && b.stderr.contains("namespace \(ClusterFixture.namespace)"), "\(what)")
    }

    @Test func everyClusterCommandGivesTheSameResultWithTheClusterOptionsBeforeOrAfterIt() throws {
        let f = try ClusterFixture()
        expectSame(try after(f, ["status"]), try before(f, ["status"]), "status")
        expectSame(try after(f, ["status", "-o", "json"]), try before(f, ["status", "-o", "json"]), "status -o json")
        expectSame(try after(f, ["describe", "batch2"]), try before(f, ["describe", "batch2"]), "describe")

        let claimed = try after(f, ["claim", "batch1", "--for", "2d", "--replicas", "3", "--reason", "habits"])
        #expect(claimed.stdout.hasPrefix("claimed batch1 for alice"))
        expectSame(try after(f, ["scale", "batch1", "4"]), try before(f, ["scale", "batch1", "4"]), "scale")
        expectSame(try after(f, ["extend", "batch1", "--for", "1h"]), try before(f, ["extend", "batch1", "--for", "1h"]), "extend")
        let released = try after(f, ["release", "batch1"])
        expectSame(claimed, try before(f, ["claim", "batch1", "--for", "2d", "--replicas", "3", "--reason", "habits"]), "claim")
        expectSame(released, try before(f, ["release", "batch1"]), "release")

        // A refusal is the same too: bob cannot release alice's claim, on either side.
        _ = try after(f, ["claim", "batch3"])
        let refusedAfter = try after(f, ["release", "batch3"], as: "bob")
        let refusedBefore = try before(f, ["release", "batch3"], as: "bob")
        #expect(refusedAfter.status == 3 && refusedBefore.status == 3)
        #expect(refusedBefore.stderr.split(separator: "\n").last == refusedAfter.stderr.split(separator: "\n").last)
    }

    @Test func aRepeatedOptionAfterTheSubcommandWins() throws {
        let f = try ClusterFixture()
        let r = try Command.run(ClusterFixture.batchctl, ["--context", "nobody-such", "status"] + f.flags("alice"),
                                environment: f.environment)
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test func clusterOptionsBeforeACommandWithoutThemAreStillRefused() throws {
        let r = try Command.run(ClusterFixture.batchctl, ["-n", "x", "config", "validate"], environment: ["BATCHCTL_CONFIG": ""])
        #expect(r.status == 2)
        #expect(r.stderr.contains("Unknown option '-n'"))
    }

    @Test("shell completions cover doctor and its cluster options", arguments: ["bash", "zsh", "fish"])
    func completions(shell: String) throws {
        let r = try Command.run(ClusterFixture.batchctl, ["--generate-completion-script", shell], environment: ["BATCHCTL_CONFIG": ""])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("doctor") && r.stdout.contains("redis-url") && r.stdout.contains("kubeconfig"))
    }

    /// A directory with `kubectl-batchctl` linked to the built batchctl, and `kubectl_complete-batchctl` (what
    /// `make install` puts beside it), for PATH.
    static func pluginDirectory() throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory(prefix: "plugin")
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/kubectl-batchctl", withDestinationPath: ClusterFixture.batchctl)
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/kubectl_complete-batchctl",
                                                   withDestinationPath: ProjectPaths.root + "/scripts/kubectl_complete-batchctl")
        return dir
    }

    @Test("kubectl completes `kubectl batchctl` as batchctl completes itself (kubectl_complete-batchctl)", arguments: [
        (["", ], ["status", "claim", "release", "doctor"]),
        (["doc"], ["doctor"]),
        (["doctor", "--li"], ["--listen"]),
        (["status", "-o", ""], ["table", "wide", "json", "yaml"]),
        (["-n", "court-listener", "cl"], ["claim"]),
    ])
    func kubectlCompletesThePlugin(words: [String], expected: [String]) throws {
        let dir = try Self.pluginDirectory()
        // Completion runs no request: no cluster, and an empty kubeconfig.
        let kubectl = try #require(["/usr/bin/kubectl", "/usr/local/bin/kubectl"].first { FileManager.default.isExecutableFile(atPath: $0) })
        let r = try Command.run(kubectl, ["__complete", "batchctl"] + words, environment: [
            "PATH": dir.path + ":/usr/local/bin:/usr/bin:/bin", "HOME": dir.path, "KUBECONFIG": dir.path + "/none", "BATCHCTL_CONFIG": ""],
            timeout: .seconds(60))
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.last == ":4", "Cobra's ShellCompDirectiveNoFileComp ends the reply: \(r.stdout)")
        for word in expected { #expect(lines.contains(word), "\(words) → \(lines)") }
    }

    func kubectl(_ f: ClusterFixture, _ arguments: [String], path: String) throws -> CommandResult {
        let kubectl = try #require(["/usr/bin/kubectl", "/usr/local/bin/kubectl"].first { FileManager.default.isExecutableFile(atPath: $0) })
        var env = f.environment
        env["PATH"] = path + ":/usr/local/bin:/usr/bin:/bin"
        env["KUBECONFIG"] = f.sim.kubeconfigPath
        return try Command.run(kubectl, arguments, environment: env, timeout: .seconds(60))
    }

    @Test func kubectlBatchctlClaimsAndShowsStatusThroughThePluginLink() throws {
        let f = try ClusterFixture()
        let dir = try Self.pluginDirectory()
        let listed = try kubectl(f, ["plugin", "list"], path: dir.path)
        #expect(listed.stdout.contains(dir.path + "/kubectl-batchctl"), "\(listed.stdout) \(listed.stderr)")

        let claim = try kubectl(f, ["batchctl", "--context", "alice", "claim", "batch1", "--reason", "via kubectl"], path: dir.path)
        #expect(claim.status == 0, "\(claim.stderr)")
        #expect(claim.stdout.hasPrefix("claimed batch1 for alice: until "))
        #expect(try f.queue("batch1").spec.reservation?.holder == "alice")

        let status = try kubectl(f, ["batchctl", "status", "batch1", "--context", "alice", "-n", ClusterFixture.namespace], path: dir.path)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("alice") && status.stdout.contains("via kubectl"), "\(status.stdout)")

        // Its help names it as typed.
        let help = try kubectl(f, ["batchctl", "--help"], path: dir.path)
        #expect(help.stdout.contains("USAGE: kubectl batchctl <subcommand>"), "\(help.stdout)")
        #expect(help.stdout.contains("See 'kubectl batchctl help <subcommand>' for detailed help."))
        let claimHelp = try kubectl(f, ["batchctl", "claim", "--help"], path: dir.path)
        #expect(claimHelp.stdout.contains("USAGE: kubectl batchctl claim"), "\(claimHelp.stdout)")
    }
}
