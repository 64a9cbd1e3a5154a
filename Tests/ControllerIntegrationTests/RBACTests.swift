import BatchTesting
import Foundation
import Testing

/// deploy/'s Role and RoleBinding, loaded into KubeSim's authorizer: the controller does its whole job
/// as its ServiceAccount, and nothing else.
@Suite(.serialized, .enabled(if: CeleryFixture.isAvailable, "needs the venv: make venv"))
struct RBACTests {
    @Test("the controller's Role lets it scale, report, record events and lead, as its ServiceAccount")
    func controllerDoesItsJobUnderItsRole() throws {
        let h = try ControllerHarness(rbac: true)
        defer { h.stop() }
        try h.startController(asServiceAccount: true)
        #expect(try h.celery.produce(#"[{"queue": "batch1", "count": 10}, {"queue": "batch2", "count": 3}]"#) == 13)
        try h.claim("batch1", replicas: 4, expiresIn: 6)
        #expect(Wait.until(timeout: .seconds(30)) { h.replicas("celery-batch1") == 4 })              // deployments/scale
        #expect(Wait.until(timeout: .seconds(30)) { h.phase("batch2") == "Orphaned" })               // batchqueues/status
        #expect(try h.eventReasons("batch2").contains("OrphanedTasks"))                               // events
        #expect(h.leaseHolder()?.hasPrefix("controller-0_") == true)                                  // leases
        #expect(Wait.until(timeout: .seconds(30)) { h.reservation("batch1") == nil })                 // clears expired claims
        #expect(Wait.until(timeout: .seconds(30)) { h.replicas("celery-batch1") == 0 })
        let denied = try h.sim.requests().filter { $0.user == ControllerHarness.serviceAccount && $0.status == 403 }
        #expect(denied.isEmpty, "\(denied.map { "\($0.method) \($0.path)" })")
    }

    @Test(arguments: [
        ("PATCH", "/apis/apps/v1/namespaces/court-listener/deployments/web/scale", #"{"spec":{"replicas":3}}"#),
        ("PATCH", "/apis/apps/v1/namespaces/court-listener/deployments/celery-batch1", #"{"spec":{"replicas":3}}"#),
        ("GET", "/api/v1/namespaces/court-listener/secrets", nil),
        ("GET", "/api/v1/namespaces/court-listener/secrets/batchctl-redis", nil),
        ("GET", "/apis/apps/v1/namespaces/default/deployments", nil),
        ("PATCH", "/apis/apps/v1/namespaces/default/deployments/celery-batch1/scale", #"{"spec":{"replicas":3}}"#),
        ("DELETE", "/apis/batchctl.dev/v1alpha1/namespaces/court-listener/batchqueues/batch1", nil),
        ("POST", "/apis/batchctl.dev/v1alpha1/namespaces/court-listener/batchqueues", #"{"apiVersion":"batchctl.dev/v1alpha1","kind":"BatchQueue","metadata":{"name":"x"},"spec":{"deployment":"web"}}"#),
        ("PUT", "/apis/coordination.k8s.io/v1/namespaces/court-listener/leases/someone-else", #"{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"someone-else"},"spec":{}}"#),
        ("DELETE", "/api/v1/namespaces/court-listener/pods/celery-batch1-abc", nil),
    ] as [(String, String, String?)])
    func anythingElseIsForbidden(_ method: String, _ path: String, _ body: String?) throws {
        let h = try ControllerHarness(rbac: true)
        defer { h.stop() }
        let contentType = method == "PATCH" ? "application/merge-patch+json" : "application/json"
        let r = try h.sim.curl(method, path, body: body, contentType: contentType, user: ControllerHarness.serviceAccount)
        #expect(r.status == 403, "\(method) \(path) gave \(r.status): \(r.body)")
        #expect(r.body.contains(#""reason":"Forbidden""#))
    }
}
