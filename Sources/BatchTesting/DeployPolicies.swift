import Foundation
import Synchronization

/// What a cluster with deploy/ installed enforces, for KubeSim: the Roles and RoleBindings (`--rbac`), the
/// users in the groups and service accounts they bind (`--users`), the CRDs and the ValidatingAdmissionPolicies
/// with their bindings (applied through the API, evaluated with cel-python, `--cel-python`). Everything is
/// rendered by kustomize from deploy/ itself (the tools venv's kubectl), once per process.
public enum DeployPolicies {
    /// The namespace deploy/ installs into.
    public static let namespace = "court-listener"
    /// The controller's ServiceAccount as the API server names it.
    public static let controllerServiceAccount = "system:serviceaccount:court-listener:batchctl-controller"
    /// The remind CronJob's ServiceAccount.
    public static let remindServiceAccount = "system:serviceaccount:court-listener:batchctl-remind"
    /// A user in group `batchctl:admins` only (not `system:masters`, unlike KubeSim's `admin`): an admin as
    /// deploy/'s RBAC and admission policies see one.
    public static let admin = "carol"

    /// The users KubeSim gets besides its defaults (`admin`; `alice` and `bob` in `batchctl:users`).
    public static let users: [(name: String, groups: [String])] = [
        (admin, ["batchctl:admins"]),
        (controllerServiceAccount, ["system:serviceaccounts", "system:serviceaccounts:court-listener"]),
        (remindServiceAccount, ["system:serviceaccounts", "system:serviceaccounts:court-listener"]),
    ]

    /// The Python with cel-python (`make tools-venv`).
    public static var celPython: String { ProjectPaths.root + "/.venv-tools/bin/python" }

    /// `kubectl kustomize deploy` and `kubectl kustomize deploy/crds`, split into documents.
    public struct Rendered: Sendable {
        public let base: [String]
        public let crds: [String]

        /// Documents of these kinds in the base.
        public func base(kinds: Set<String>) -> String {
            base.filter { kinds.contains(Self.kind(of: $0)) }.joined(separator: "\n---\n") + "\n"
        }

        static func kind(of document: String) -> String {
            for line in document.split(separator: "\n") where line.hasPrefix("kind: ") { return String(line.dropFirst(6)) }
            return ""
        }

        /// The kinds the CRDs of deploy/crds define (their `spec.names.kind`).
        public var customKinds: Set<String> {
            Set(crds.flatMap { doc in
                // `spec.names.kind`, as kustomize renders it: indented by four spaces.
                doc.split(separator: "\n").filter { $0.hasPrefix("    kind: ") }.map { String($0.dropFirst(10)) }
            })
        }
    }

    private static let cache = Mutex<Rendered?>(nil)

    /// The rendered manifests (cached).
    public static func rendered() throws -> Rendered {
        if let r = cache.withLock({ $0 }) { return r }
        let r = Rendered(base: try render("deploy"), crds: try render("deploy/crds"))
        cache.withLock { $0 = r }
        return r
    }

    static func render(_ path: String) throws -> [String] {
        let venvKubectl = ProjectPaths.root + "/.venv-tools/bin/kubectl"
        let kubectl = FileManager.default.isExecutableFile(atPath: venvKubectl) ? venvKubectl : "/usr/bin/kubectl"
        let r = try Command.run(kubectl, ["kustomize", ProjectPaths.root + "/" + path], timeout: .seconds(60))
        guard r.status == 0 else { throw SupportError("kubectl kustomize \(path) failed: \(r.stderr)") }
        return r.stdout.components(separatedBy: "\n---\n").filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
    }

    /// The files for `kubesim serve --rbac RBAC --users USERS --cel-python PYTHON`, written to `directory`.
    /// - Parameter extraUsers: more users (name, groups), such as a claim race's `user01`...
    public static func serveFiles(directory: String, extraUsers: [(name: String, groups: [String])] = []) throws
        -> (rbac: String, users: String, celPython: String) {
        guard FileManager.default.isExecutableFile(atPath: celPython) else {
            throw SupportError("\(celPython) is missing: KubeSim evaluates deploy/'s admission policies with cel-python; run `make tools-venv`")
        }
        let rbacPath = directory + "/deploy-rbac.yaml"
        try rendered().base(kinds: ["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"])
            .write(toFile: rbacPath, atomically: true, encoding: .utf8)
        let usersPath = directory + "/deploy-users.json"
        struct User: Encodable {
            var name: String
            var groups: [String]
        }
        try JSONEncoder().encode((users + extraUsers).map { User(name: $0.name, groups: $0.groups) }).write(to: URL(fileURLWithPath: usersPath))
        return (rbacPath, usersPath, celPython)
    }

    /// The `kubesim serve` flags (`--rbac`, `--users`, `--cel-python`), with their files written to `directory`.
    public static func serveArguments(directory: String, extraUsers: [(name: String, groups: [String])] = []) throws -> [String] {
        let files = try serveFiles(directory: directory, extraUsers: extraUsers)
        return ["--rbac", files.rbac, "--users", files.users, "--cel-python", files.celPython]
    }

    /// One rendered document with what locates it in the API.
    public struct Document: Sendable {
        public let apiVersion: String
        public let kind: String
        /// `metadata.namespace` (empty for cluster-scoped objects).
        public let namespace: String
        public let yaml: String
    }

    /// What `install` applies after the CRDs, in order: the base's objects of deploy/crds' kinds other than
    /// BatchQueues (such as admission policy params; the tests create their own queues), then the
    /// ValidatingAdmissionPolicies and their bindings.
    public static func policyDocuments() throws -> [Document] {
        let r = try rendered()
        let params = r.customKinds.subtracting(["BatchQueue"])
        let kinds = ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]
        let ordered = r.base.filter { params.contains(Rendered.kind(of: $0)) } + r.base.filter { kinds.contains(Rendered.kind(of: $0)) }
        return ordered.map { yaml in
            let lines = yaml.split(separator: "\n")
            func value(_ prefix: String) -> String {
                lines.first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) } ?? ""
            }
            return Document(apiVersion: value("apiVersion: "), kind: value("kind: "), namespace: value("  namespace: "), yaml: yaml)
        }
    }

    /// Applies deploy/crds (and waits until their kinds are served), then `policyDocuments()`.
    public static func install(on sim: KubeSimServer) throws {
        let r = try rendered()
        let crds = sim.directory + "/deploy-crds.yaml"
        try (r.crds.joined(separator: "\n---\n") + "\n").write(toFile: crds, atomically: true, encoding: .utf8)
        try sim.kubectlOK(["apply", "--validate=false", "-f", crds])
        var last = ""
        let served = Wait.until(timeout: .seconds(20), interval: .milliseconds(100)) {
            // Every kind of deploy/crds: the params (BatchQueuePolicy) are applied next.
            let result = try? sim.kubectl(["get", "batchqueues,batchqueuepolicies", "-n", namespace])
            last = result?.stderr ?? ""
            return result?.status == 0
        }
        guard served else { throw SupportError("the CRDs of deploy/crds were not served in time: \(last)") }
        let policies = sim.directory + "/deploy-admission.yaml"
        try (policyDocuments().map(\.yaml).joined(separator: "\n---\n") + "\n").write(toFile: policies, atomically: true, encoding: .utf8)
        try sim.kubectlOK(["apply", "--validate=false", "-f", policies])
    }
}
