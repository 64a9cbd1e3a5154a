import BatchTesting
import Foundation
import Testing

/// deploy/'s Roles, RoleBindings and admission policies, enforced by KubeSim: the controller does its whole
/// job as its ServiceAccount, and nothing else; the remind CronJob's ServiceAccount only reads.
@Suite(.serialized, .enabled(if: CeleryFixture.isAvailable, "needs the venv: make venv"))
struct RBACTests {
    @Test("the controller's Role lets it scale, report, record events and lead, as its ServiceAccount")
    func controllerDoesItsJobUnderItsRole() throws {
        let h = try ControllerHarness()
        defer { h.stop() }
        try h.startController()   // as its ServiceAccount
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
        let h = try ControllerHarness()
        defer { h.stop() }
        let contentType = method == "PATCH" ? "application/merge-patch+json" : "application/json"
        let r = try h.sim.curl(method, path, body: body, contentType: contentType, user: ControllerHarness.serviceAccount)
        #expect(r.status == 403, "\(method) \(path) gave \(r.status): \(r.body)")
        #expect(r.body.contains(#""reason":"Forbidden""#))
    }

    static let podPath = "/api/v1/namespaces/court-listener/pods/celery-batch1-abc"

    /// RBAC lets the controller patch pods; deploy/'s admission policy narrows that to the pod-deletion-cost annotation.
    @Test func theControllerMayChangeOnlyAPodsDeletionCost() throws {
        let h = try ControllerHarness()
        defer { h.stop() }
        let pod = #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"celery-batch1-abc","labels":{"app.kubernetes.io/name":"celery-batch1"}},"spec":{"containers":[{"name":"worker","image":"celery-app:test"}]}}"#
        let created = try h.sim.curl("POST", "/api/v1/namespaces/court-listener/pods", body: pod)
        try #require(created.status == 201, "\(created.body)")
        let patch = "application/merge-patch+json"
        let cost = try h.sim.curl("PATCH", Self.podPath, body: #"{"metadata":{"annotations":{"controller.kubernetes.io/pod-deletion-cost":"-5"}}}"#,
                                  contentType: patch, user: ControllerHarness.serviceAccount)
        #expect(cost.status == 200, "\(cost.body)")
        for body in [#"{"spec":{"containers":[{"name":"worker","image":"evil:latest"}]}}"#,
                     #"{"metadata":{"labels":{"app.kubernetes.io/name":"elsewhere"}}}"#,
                     #"{"metadata":{"annotations":{"other":"x"}}}"#] {
            let r = try h.sim.curl("PATCH", Self.podPath, body: body, contentType: patch, user: ControllerHarness.serviceAccount)
            #expect(r.status == 403, "\(body) gave \(r.status): \(r.body)")
            #expect(r.body.contains("ValidatingAdmissionPolicy 'batchctl-controller-pods' with binding 'batchctl-controller-pods' denied request: the controller may change only the annotation controller.kubernetes.io/pod-deletion-cost of a pod"),
                    "\(r.body)")
        }
        let stored = try h.sim.curl("GET", Self.podPath)
        #expect(stored.body.contains("celery-app:test") && !stored.body.contains("evil") && !stored.body.contains("elsewhere"))
    }

    /// The remind CronJob's ServiceAccount reads BatchQueues and events, and every write is refused.
    @Test func remindsServiceAccountOnlyReads() throws {
        let h = try ControllerHarness()
        defer { h.stop() }
        let sa = DeployPolicies.remindServiceAccount
        let queues = "/apis/batchctl.dev/v1alpha1/namespaces/court-listener/batchqueues"
        for path in [queues, "\(queues)/batch1", "/apis/events.k8s.io/v1/namespaces/court-listener/events", "/api/v1/namespaces/court-listener/events"] {
            let r = try h.sim.curl("GET", path, user: sa)
            #expect(r.status == 200, "GET \(path) gave \(r.status): \(r.body)")
        }
        let merge = "application/merge-patch+json"
        let writes: [(String, String, String?, String)] = [
            ("PATCH", "\(queues)/batch1", #"{"spec":{"reservation":null}}"#, merge),
            ("PATCH", "\(queues)/batch1/status", #"{"status":{"phase":"Free"}}"#, merge),
            ("DELETE", "\(queues)/batch1", nil, "application/json"),
            ("POST", queues, #"{"apiVersion":"batchctl.dev/v1alpha1","kind":"BatchQueue","metadata":{"name":"x"},"spec":{"deployment":"web"}}"#, "application/json"),
            ("POST", "/apis/events.k8s.io/v1/namespaces/court-listener/events", #"{"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"e"}}"#, "application/json"),
            ("PATCH", "/apis/apps/v1/namespaces/court-listener/deployments/celery-batch1/scale", #"{"spec":{"replicas":3}}"#, merge),
            ("GET", "/api/v1/namespaces/court-listener/secrets", nil, "application/json"),
            ("GET", "/apis/apps/v1/namespaces/court-listener/deployments", nil, "application/json"),
        ]
        for (method, path, body, contentType) in writes {
            let r = try h.sim.curl(method, path, body: body, contentType: contentType, user: sa)
            #expect(r.status == 403, "\(method) \(path) gave \(r.status): \(r.body)")
        }
    }
}
