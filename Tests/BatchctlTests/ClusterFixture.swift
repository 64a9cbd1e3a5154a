import BatchCore
import BatchTesting
import Foundation
import Testing

/// A KubeSim child process with what deploy/ installs (RBAC, users in its groups, CRDs, admission policies:
/// `DeployPolicies`) and the four BatchQueue objects from deploy/base, and a way to run the built `batchctl`
/// against it as any of its users.
final class ClusterFixture: @unchecked Sendable {
    static let batchctl = ProjectPaths.product("batchctl")
    static let namespace = "court-listener"
    let sim: KubeSimServer

    /// Starts KubeSim (with `extraUsers` named user01, user02, ..., in `batchctl:users`) and applies
    /// deploy/base/batchqueues.yaml with kubectl.
    init(extraUsers: Int = 0) throws {
        sim = try KubeSimServer.start(deployPolicies: true, extraUsers: ClaimRace.users(count: extraUsers))
        // Discovery of a new CRD can lag a moment behind its creation (as on a real cluster): retry, bounded.
        var last = ""
        let applied = Wait.until(timeout: .seconds(20), interval: .milliseconds(200)) {
            let r = try? sim.kubectl(["apply", "--validate=false", "-n", Self.namespace, "-f",
                                      ProjectPaths.root + "/deploy/base/batchqueues.yaml"])
            last = r?.stderr ?? "kubectl did not run"
            return r?.status == 0
        }
        guard applied else { throw SupportError("kubectl apply batchqueues.yaml: \(last)") }
    }

    /// `user01` ... `user50`.
    static func user(_ i: Int) -> String { ClaimRace.user(i) }

    /// The flags that make batchctl talk to this KubeSim as `user` (a context per user).
    func flags(_ user: String) -> [String] {
        ["--kubeconfig", sim.kubeconfigPath, "--context", user]
    }

    /// The environment for batchctl: no $BATCHCTL_CONFIG (embedded defaults), HOME inside the fixture.
    var environment: [String: String] { ["BATCHCTL_CONFIG": "", "HOME": sim.directory, "NO_COLOR": "", "COLUMNS": "200"] }

    /// Runs `batchctl SUBCOMMAND ARGS... --kubeconfig K --context USER`.
    func batchctl(_ arguments: [String], as user: String = "alice", extraEnvironment: [String: String] = [:]) throws -> CommandResult {
        var env = environment
        for (k, v) in extraEnvironment { env[k] = v }
        return try Command.run(Self.batchctl, arguments + flags(user), environment: env, timeout: .seconds(60))
    }

    /// The BatchQueue as stored, read with curl as admin and decoded with the Swift model.
    func queue(_ name: String) throws -> BatchQueue {
        let r = try sim.curl("GET", "/apis/batchctl.dev/v1alpha1/namespaces/\(Self.namespace)/batchqueues/\(name)")
        guard r.status == 200 else { throw SupportError("GET \(name): \(r.status) \(r.body)") }
        return try JSONDecoder().decode(BatchQueue.self, from: Data(r.body.utf8))
    }

    /// Requests that changed or tried to change state, other than asking who the caller is.
    func writes() throws -> [KubeSimServer.RequestRecord] {
        try sim.requests().filter { $0.isWrite && !$0.path.hasSuffix("/selfsubjectreviews") }
    }
}
