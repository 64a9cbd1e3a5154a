import BatchTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Acceptance 3: with `--kubelet`, Deployment replicas are local processes; scale-down honours pod-deletion-cost;
/// nothing outlives `kubesim serve` after SIGTERM.
@Suite struct KubeletTests {
    static let pods = "/api/v1/namespaces/court-listener/pods"
    static let deployments = "/apis/apps/v1/namespaces/court-listener/deployments"

    static func pods(_ s: KubeSimServer) throws -> [[String: Any]] {
        (try s.get(pods + "?labelSelector=app%3Dsleeper")["items"] as? [[String: Any]]) ?? []
    }

    static func pid(_ pod: [String: Any]) -> pid_t? {
        let id = dig(pod, "status", "containerStatuses", "0", "containerID") as? String ?? ""
        return id.hasPrefix("kubesim://") ? pid_t(id.dropFirst("kubesim://".count)) : nil
    }

    static func alive(_ pid: pid_t) -> Bool { kill(pid, 0) == 0 }

    static func scale(_ s: KubeSimServer, _ n: Int) throws {
        let r = try s.curl("PATCH", deployments + "/sleeper/scale", body: "{\"spec\":{\"replicas\":\(n)}}", contentType: "application/merge-patch+json")
        try #require(r.status == 200, "\(r.body)")
    }

    @Test func scaleZeroToThreeToOneKeepsTheCostliestPodAndSIGTERMStopsEverything() throws {
        let s = try KubeSimServer.start(kubelet: true)
        defer { s.stop() }
        try s.create(Self.deployments, Fixture.deployment("sleeper", replicas: 0, command: "sleep 600", grace: 2))
        try Self.scale(s, 3)
        #expect(Wait.until(timeout: .seconds(15)) { ((try? Self.pods(s)) ?? []).count == 3 })
        let pods = try Self.pods(s)
        let pids = pods.compactMap(Self.pid)
        #expect(pids.count == 3)
        #expect(pids.allSatisfy(Self.alive))
        for pod in pods {
            let name = dig(pod, "metadata", "name") as? String ?? ""
            #expect(name.hasPrefix("sleeper-"))
            #expect(name.split(separator: "-").count == 3)
            #expect(dig(pod, "status", "phase") as? String == "Running")
        }
        #expect(Wait.until(timeout: .seconds(10)) {
            let d = try? s.get(Self.deployments + "/sleeper")
            return dig(d, "status", "readyReplicas") as? Int == 3 && dig(d, "status", "replicas") as? Int == 3
        })

        // The middle pod gets the highest deletion cost; it must survive the scale-down to 1.
        let names = pods.compactMap { dig($0, "metadata", "name") as? String }
        let survivor = names[1]
        for (i, name) in names.enumerated() {
            let cost = name == survivor ? 100 : i
            let r = try s.curl("PATCH", Self.pods + "/\(name)",
                               body: "{\"metadata\":{\"annotations\":{\"controller.kubernetes.io/pod-deletion-cost\":\"\(cost)\"}}}",
                               contentType: "application/merge-patch+json")
            #expect(r.status == 200)
        }
        try Self.scale(s, 1)
        #expect(Wait.until(timeout: .seconds(15)) { ((try? Self.pods(s)) ?? []).count == 1 })
        let remaining = try Self.pods(s)
        #expect(dig(remaining.first, "metadata", "name") as? String == survivor)
        let survivorPid = pids[1]
        #expect(Wait.until(timeout: .seconds(10)) { !Self.alive(pids[0]) && !Self.alive(pids[2]) })
        #expect(Self.alive(survivorPid))
        #expect(Wait.until(timeout: .seconds(10)) {
            dig(try? s.get(Self.deployments + "/sleeper"), "status", "readyReplicas") as? Int == 1
        })

        s.stop()
        #expect(s.process.exitStatus == 0)
        #expect(Wait.until(timeout: .seconds(5)) { !Self.alive(survivorPid) })
    }

    @Test func podsGetTheirNameAndTemplateEnvironment() throws {
        let s = try KubeSimServer.start(kubelet: true)
        defer { s.stop() }
        let body = Fixture.parse(Fixture.deployment("sleeper", replicas: 1, command: "echo \"name=$POD_NAME ns=$POD_NAMESPACE host=$HOSTNAME q=$QUEUE\"; sleep 600"))
        var spec = body["spec"] as! [String: Any]
        var template = spec["template"] as! [String: Any]
        var podSpec = template["spec"] as! [String: Any]
        podSpec["containers"] = [["name": "main", "image": "busybox", "env": [["name": "QUEUE", "value": "batch1"]]]]
        template["spec"] = podSpec
        spec["template"] = template
        var object = body
        object["spec"] = spec
        try s.create(Self.deployments, Fixture.json(object))
        #expect(Wait.until(timeout: .seconds(15)) { ((try? Self.pods(s)) ?? []).count == 1 })
        let name = dig(try Self.pods(s).first, "metadata", "name") as? String ?? ""
        let log = "\(s.directory)/pods/\(name).log"
        #expect(Wait.until(timeout: .seconds(10)) { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("q=batch1") })
        #expect(((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("name=\(name) ns=court-listener host=\(name) q=batch1"))
        let logs = try s.kubectl(["logs", name])
        #expect(logs.stdout.contains("q=batch1"), "\(logs.stderr)")
        let pods = try s.kubectl(["get", "pods"])
        #expect(pods.stdout.contains(name) && pods.stdout.contains("Running") && pods.stdout.contains("1/1"))
        let described = try s.kubectl(["describe", "pod", name])
        #expect(described.status == 0, "\(described.stderr)")
    }

    @Test func exitedPodsAreReplacedWithBackoffAndDeletedPodsAreRestarted() throws {
        let s = try KubeSimServer.start(kubelet: true)
        defer { s.stop() }
        try s.create(Self.deployments, Fixture.deployment("sleeper", replicas: 1, command: "sleep 1", grace: 1))
        #expect(Wait.until(timeout: .seconds(15)) { ((try? Self.pods(s)) ?? []).count == 1 })
        let first = dig(try Self.pods(s).first, "metadata", "name") as? String ?? ""
        #expect(Wait.until(timeout: .seconds(20)) {
            let names = ((try? Self.pods(s)) ?? []).compactMap { dig($0, "metadata", "name") as? String }
            return names.count == 1 && names != [first]
        })
        // Deleting a pod through the API stops its process and a replacement starts.
        let patched = try s.curl("PATCH", Self.deployments + "/sleeper", body: #"{"spec":{"template":{"metadata":{"annotations":{"kubesim.batchctl.dev/command":"sleep 600"}}}}}"#,
                                 contentType: "application/merge-patch+json")
        #expect(patched.status == 200)
        #expect(Wait.until(timeout: .seconds(30)) {
            let pods = (try? Self.pods(s)) ?? []
            return pods.count == 1 && pods.allSatisfy { Self.pid($0).map(Self.alive) ?? false }
        })
        let victim = try Self.pods(s).first
        let victimName = dig(victim, "metadata", "name") as? String ?? ""
        let victimPid = Self.pid(victim ?? [:]) ?? 0
        #expect(try s.curl("DELETE", Self.pods + "/\(victimName)").status == 200)
        #expect(Wait.until(timeout: .seconds(15)) { !Self.alive(victimPid) })
        #expect(Wait.until(timeout: .seconds(15)) {
            let names = ((try? Self.pods(s)) ?? []).compactMap { dig($0, "metadata", "name") as? String }
            return names.count == 1 && names != [victimName]
        })
    }
}
