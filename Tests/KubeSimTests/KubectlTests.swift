import BatchTesting
import Foundation
import Testing

/// Acceptance 2: an unmodified `kubectl` (the one on PATH) against KubeSim over HTTPS with its kubeconfig.
@Suite struct KubectlTests {
    static func kubectl(_ s: KubeSimServer, _ args: [String], context: String = "admin") throws -> CommandResult {
        let r = try s.kubectl(args, context: context)
        try #require(r.status == 0, "kubectl \(args.joined(separator: " ")): \(r.stderr)")
        return r
    }

    @Test func getScaleAndSeeTheChange() throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        try s.create("/apis/apps/v1/namespaces/court-listener/deployments", Fixture.deployment("celery-batch1", replicas: 1))
        let get = try Self.kubectl(s, ["get", "deployments"])
        #expect(get.stdout.contains("NAME"))
        #expect(get.stdout.contains("celery-batch1"))
        #expect(get.stdout.contains("READY"))

        let scaled = try Self.kubectl(s, ["scale", "deployment", "celery-batch1", "--replicas=3"])
        #expect(scaled.stdout.contains("deployment.apps/celery-batch1 scaled"))
        let replicas = try Self.kubectl(s, ["get", "deployment", "celery-batch1", "-o", "jsonpath={.spec.replicas}"])
        #expect(replicas.stdout == "3")
        #expect(Wait.until(timeout: .seconds(10)) {
            (try? Self.kubectl(s, ["get", "deployments", "celery-batch1"]).stdout.contains("3/3")) ?? false
        })
        let patch = try s.requests().first { $0.method == "PATCH" && $0.path.hasSuffix("/celery-batch1/scale") }
        #expect(patch?.requestContentType == "application/merge-patch+json")
        #expect(patch?.status == 200)
    }

    @Test func getCustomResourceShowsPrinterColumns() throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        try s.installCRD()
        try s.create("/apis/batchctl.dev/v1alpha1/namespaces/court-listener/batchqueues", Fixture.batchQueue("batch1"))
        let r = try Self.kubectl(s, ["get", "bq"])
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.first?.split(separator: " ", omittingEmptySubsequences: true) == ["NAME", "QUEUE", "HOLDER", "MAX", "PHASE", "AGE"])
        #expect(lines.dropFirst().first?.contains("alice@example.org") == true)
        #expect(lines.dropFirst().first?.contains("20") == true)
        let byName = try Self.kubectl(s, ["get", "batchqueues.batchctl.dev", "batch1"])
        #expect(byName.stdout.contains("batch1"))
    }

    @Test func describeShowsEventsAndGetEventsLists() throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        let d = try s.create("/apis/apps/v1/namespaces/court-listener/deployments", Fixture.deployment("celery-batch1"))
        let uid = dig(d, "metadata", "uid") as? String ?? ""
        try s.create("/apis/events.k8s.io/v1/namespaces/court-listener/events", Fixture.json([
            "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": ["name": "celery-batch1.17f3"],
            "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "batchctl.dev/controller", "reportingInstance": "ctl-0",
            "action": "Scale", "reason": "ScaledUp", "type": "Normal", "note": "Scaled celery-batch1 from 0 to 4",
            "regarding": ["apiVersion": "apps/v1", "kind": "Deployment", "name": "celery-batch1", "namespace": "court-listener", "uid": uid]]))
        let described = try Self.kubectl(s, ["describe", "deployment", "celery-batch1"])
        #expect(described.stdout.contains("Events:"))
        #expect(described.stdout.contains("ScaledUp"))
        #expect(described.stdout.contains("Scaled celery-batch1 from 0 to 4"))
        #expect(described.stdout.contains("batchctl.dev/controller"))

        let events = try Self.kubectl(s, ["get", "events"])
        #expect(events.stdout.contains("ScaledUp"))
        #expect(events.stdout.contains("deployment/celery-batch1"))
    }

    @Test(arguments: ["admin", "alice", "bob"])
    func authWhoami(user: String) throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        let r = try Self.kubectl(s, ["auth", "whoami", "-o", "json"], context: user)
        let review = Fixture.parse(r.stdout)
        #expect(dig(review, "status", "userInfo", "username") as? String == user)
        let groups = dig(review, "status", "userInfo", "groups") as? [String] ?? []
        #expect(groups.contains("system:authenticated"))
        #expect(groups.contains("batchctl:admins") == (user == "admin"))
    }

    @Test func applyAndDeleteWithKubectl() throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        let applied = try s.kubectl(["apply", "--validate=false", "-f", "-"], stdin: Fixture.deployment("web"))
        #expect(applied.status == 0, "\(applied.stderr)")
        let again = try s.kubectl(["apply", "--validate=false", "-f", "-"], stdin: Fixture.deployment("web", replicas: 2))
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try Self.kubectl(s, ["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]).stdout == "2")
        let ssa = try s.kubectl(["apply", "--server-side", "--validate=false", "-f", "-"], stdin: Fixture.deployment("ssa", replicas: 2))
        #expect(ssa.status == 0, "\(ssa.stderr)")
        #expect(ssa.stdout.contains("serverside-applied"))
        let ssaAgain = try s.kubectl(["apply", "--server-side", "--validate=false", "-f", "-"], stdin: Fixture.deployment("ssa", replicas: 3))
        #expect(ssaAgain.status == 0, "\(ssaAgain.stderr)")
        #expect(try Self.kubectl(s, ["get", "deploy", "ssa", "-o", "jsonpath={.spec.replicas}"]).stdout == "3")
        // kubectl scale then owns replicas; a non-forced apply of another value conflicts.
        _ = try Self.kubectl(s, ["scale", "deployment", "ssa", "--replicas=5"])
        let conflict = try s.kubectl(["apply", "--server-side", "--validate=false", "-f", "-"], stdin: Fixture.deployment("ssa", replicas: 3))
        #expect(conflict.status != 0)
        #expect(conflict.stderr.contains("conflict"))
        let scaledCurrent = try s.kubectl(["scale", "deployment", "ssa", "--current-replicas=5", "--replicas=4"])
        #expect(scaledCurrent.status == 0, "\(scaledCurrent.stderr)")
        let wrongCurrent = try s.kubectl(["scale", "deployment", "ssa", "--current-replicas=9", "--replicas=1"])
        #expect(wrongCurrent.status != 0)
        #expect(try Self.kubectl(s, ["delete", "deployment", "web"]).stdout.contains("deleted"))
        let missing = try s.kubectl(["get", "deployment", "web"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("NotFound"))
    }
}
