import BatchTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Authentication (tokens, client certificates, extra users) and the RBAC authorizer.
@Suite struct AuthTests {
    static let rbac = """
    apiVersion: rbac.authorization.k8s.io/v1
    kind: Role
    metadata: {name: scaler, namespace: default}
    rules:
    - apiGroups: ["apps"]
      resources: ["deployments/scale"]
      resourceNames: ["web"]
      verbs: ["get", "patch", "update"]
    - apiGroups: ["apps"]
      resources: ["deployments"]
      verbs: ["get", "list", "watch"]
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRole
    metadata: {name: web-reader}
    rules:
    - apiGroups: ["apps"]
      resources: ["deployments"]
      resourceNames: ["web"]
      verbs: ["get", "list", "watch"]
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: RoleBinding
    metadata: {name: web-reader, namespace: default}
    subjects: [{kind: User, name: erin}]
    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: web-reader}
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: RoleBinding
    metadata: {name: scaler, namespace: default}
    subjects: [{kind: User, name: alice}, {kind: Group, name: scalers}]
    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: scaler}
    """

    static func start() throws -> KubeSimServer {
        let dir = try TemporaryDirectory(prefix: "rbac")
        let policy = "\(dir.path)/rbac.yaml"
        try Self.rbac.write(toFile: policy, atomically: true, encoding: .utf8)
        let users = "\(dir.path)/users.yaml"
        try "- {name: carol, groups: [scalers], token: carol-token}\n- {name: dave}\n- {name: erin}\n".write(toFile: users, atomically: true, encoding: .utf8)
        let s = try KubeSimServer.start(extraArguments: ["--rbac", policy, "--users", users])
        try s.create(KubeSimServer.deployments, Fixture.deployment("web"))
        try s.create(KubeSimServer.deployments, Fixture.deployment("api"))
        _ = dir   // the files are read at start
        return s
    }

    @Test func leastPrivilegeRoleAllowsOnlyTheNamedScale() throws {
        let s = try Self.start()
        defer { s.stop() }
        let patch = #"{"spec":{"replicas":2}}"#
        #expect(try s.curl("PATCH", KubeSimServer.deployments + "/web/scale", body: patch, contentType: "application/merge-patch+json", user: "alice").status == 200)
        #expect(try s.curl("GET", KubeSimServer.deployments, user: "alice").status == 200)
        let denied = try s.curl("PATCH", KubeSimServer.deployments + "/api/scale", body: patch, contentType: "application/merge-patch+json", user: "alice")
        #expect(denied.status == 403)
        let body = Fixture.parse(denied.body)
        #expect(body["message"] as? String == "deployments.apps \"api\" is forbidden: User \"alice\" cannot patch resource \"deployments/scale\" in API group \"apps\" in the namespace \"default\"")
        #expect(body["reason"] as? String == "Forbidden")
        #expect(dig(body, "details", "kind") as? String == "deployments")
        #expect(dig(body, "details", "group") as? String == "apps")
        // Forbidden is decided before existence.
        #expect(try s.curl("PATCH", KubeSimServer.deployments + "/missing/scale", body: patch, contentType: "application/merge-patch+json", user: "alice").status == 403)
        #expect(try s.curl("PATCH", KubeSimServer.deployments + "/web", body: patch, contentType: "application/merge-patch+json", user: "alice").status == 403)
        #expect(try s.curl("GET", KubeSimServer.deployments, user: "bob").status == 403)
        #expect(try s.curl("GET", "/api/v1/namespaces/other/pods", user: "alice").status == 403)
        // Groups bind too; admins bypass; everyone may ask who they are.
        #expect(try s.curl("PATCH", KubeSimServer.deployments + "/web/scale", body: patch, contentType: "application/merge-patch+json", user: "carol").status == 200)
        #expect(try s.curl("DELETE", KubeSimServer.deployments + "/api", user: "admin").status == 200)
        let review = try s.curl("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", body: #"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#, user: "dave")
        #expect(review.status == 201)
        #expect(dig(Fixture.parse(review.body), "status", "userInfo", "username") as? String == "dave")
        #expect(s.token(for: "carol") == "carol-token")
        // resourceNames-restricted list/watch need a matching metadata.name field selector.
        #expect(try s.curl("GET", KubeSimServer.deployments, user: "erin").status == 403)
        #expect(try s.curl("GET", KubeSimServer.deployments + "?fieldSelector=metadata.name%3Dweb", user: "erin").status == 200)
        #expect(try s.curl("GET", KubeSimServer.deployments + "?fieldSelector=metadata.name%3Dapi", user: "erin").status == 403)
        #expect(try s.curl("GET", KubeSimServer.deployments + "/web", user: "erin").status == 200)
        #expect(try s.curl("GET", "/apis/apps/v1/namespaces/other/deployments/web", user: "erin").status == 403)
        // Test endpoints are for admins only.
        #expect(try s.curl("GET", "/kubesim/requests", user: "alice").status == 403)
    }

    @Test func clientCertificateAuthenticatesCommonNameAndOrganizations() throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        let (cert, key) = s.clientCertificate(for: "admin")
        let r = try Command.run("/usr/bin/curl", ["-sS", "--cacert", s.caPath, "--cert", cert, "--key", key, "-X", "POST",
                                                  "-H", "Content-Type: application/json", "--data-binary",
                                                  #"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#,
                                                  s.url + "/apis/authentication.k8s.io/v1/selfsubjectreviews"])
        let info = dig(Fixture.parse(r.stdout), "status", "userInfo") as? [String: Any]
        #expect(info?["username"] as? String == "admin")
        #expect((info?["groups"] as? [String])?.contains("batchctl:admins") == true)
        let anonymous = try Command.run("/usr/bin/curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", s.caPath, s.url + "/api/v1/pods"])
        #expect(anonymous.stdout == "401")
        let badToken = try s.curl("GET", "/api/v1/pods", headers: ["Authorization: Bearer wrong"], user: nil)
        #expect(badToken.status == 401)
    }

    @Test func plainHTTPModeWritesAKubeconfigWithoutCA() throws {
        let s = try KubeSimServer.start(http: true)
        defer { s.stop() }
        #expect(s.url.hasPrefix("http://127.0.0.1:"))
        #expect(try s.curl("GET", "/api/v1/namespaces").status == 200)
        let kubeconfig = try String(contentsOfFile: s.kubeconfigPath, encoding: .utf8)
        #expect(!kubeconfig.contains("certificate-authority-data"))
        #expect(kubeconfig.contains("current-context: admin"))
        #expect(kubeconfig.contains("namespace: court-listener"))
    }
}
