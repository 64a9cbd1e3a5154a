import BatchTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Fault injection, the request log, connection statistics, shutdown, and the remaining server behaviour
/// (custom-resource subresources, pruning, finalizers, 100-continue).
@Suite struct ControlTests {
    @Test func faultsPerRouteAndVerb() throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        try s.create(KubeSimServer.deployments, Fixture.deployment("web"))
        try s.setFaults("patch /apis/apps/v1/namespaces/*/deployments/*/scale status=409,count=1;get /api/v1/** status=500,count=1;get /apis/apps/v1/namespaces/default/deployments/web latencyMs=50,count=1")
        let patch = #"{"spec":{"replicas":2}}"#
        let conflict = try s.curl("PATCH", KubeSimServer.deployments + "/web/scale", body: patch, contentType: "application/merge-patch+json")
        #expect(conflict.status == 409)
        #expect(Fixture.parse(conflict.body)["reason"] as? String == "Conflict")
        #expect(try s.curl("PATCH", KubeSimServer.deployments + "/web/scale", body: patch, contentType: "application/merge-patch+json").status == 200)
        let failure = try s.curl("GET", "/api/v1/namespaces")
        #expect(failure.status == 500)
        #expect(Fixture.parse(failure.body)["reason"] as? String == "InternalError")
        #expect(try s.curl("GET", KubeSimServer.deployments + "/web").status == 200)
        try s.setFaults("")
        #expect(try s.curl("GET", "/api/v1/namespaces").status == 200)

        try s.setFaults(#"[{"path":"/apis/apps/v1/**","verb":"get","status":429,"retryAfter":2,"statusBody":true}]"#)
        let throttled = try s.curl("GET", KubeSimServer.deployments)
        #expect(throttled.status == 429)
        #expect(throttled.headers["retry-after"] == "2")
        #expect(dig(Fixture.parse(throttled.body), "details", "retryAfterSeconds") as? Int == 2)
    }

    @Test func droppedWatchStream() throws {
        let r = try watchTwoDeployments(faults: "watch /apis/apps/v1/** dropWatchAfterEvents=1", timeoutSeconds: 30)
        #expect(r.status == 200)
        #expect(r.curlExitCode != 0 && r.curlExitCode != 28)     // cut off, not timed out
        #expect(Fixture.events(r.body).count == 1)
    }

    @Test func watchDropWithProbabilityZeroLeavesStreamsAlone() throws {
        let r = try watchTwoDeployments(faults: "watch /apis/apps/v1/** dropWatchAfterEvents=1,probability=0", timeoutSeconds: 2)
        #expect(r.status == 200)
        #expect(r.curlExitCode == 0)                             // ended by its timeout, not cut off
        #expect(Fixture.events(r.body).count >= 2)               // both ADDED, and the status updates that followed
    }

    /// Watches Deployments for at most `timeoutSeconds` on a KubeSim started with `faults` and two Deployments.
    private func watchTwoDeployments(faults: String, timeoutSeconds: Int) throws -> CurlResult {
        let s = try KubeSimServer.start(faults: faults)
        defer { s.stop() }
        try s.create(KubeSimServer.deployments, Fixture.deployment("web"))
        try s.create(KubeSimServer.deployments, Fixture.deployment("api"))
        return try s.curl("GET", KubeSimServer.deployments + "?watch=1&timeoutSeconds=\(timeoutSeconds)", maxTime: 20)
    }

    @Test func requestLogRecordsWritesAndCanBeCleared() throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        try s.create(KubeSimServer.deployments, Fixture.deployment("web"))
        _ = try s.curl("PATCH", KubeSimServer.deployments + "/web/scale", body: #"{"spec":{"replicas":5}}"#, contentType: "application/merge-patch+json")
        let log = try s.requests()
        let write = log.first { $0.method == "PATCH" }
        #expect(write?.user == "admin")
        #expect(write?.verb == "patch")
        #expect(write?.body == #"{"spec":{"replicas":5}}"#)
        #expect(write?.status == 200)
        #expect(log.filter(\.isWrite).count == 2)
        try s.clearRequests()
        _ = try s.curl("GET", KubeSimServer.deployments)
        #expect(try s.requests().filter(\.isWrite).isEmpty)
    }

    @Test func sigtermEndsOpenWatchesAndExitsCleanly() throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        let (watch, out) = try s.startWatch(KubeSimServer.deployments + "?watch=1&timeoutSeconds=300")
        defer { watch.stop() }
        #expect(Wait.until(timeout: .seconds(10)) { (dig(try? s.get("/kubesim/stats"), "watches") as? Int ?? 0) == 1 })
        s.process.signal(SIGTERM)
        #expect(s.process.waitForExit(timeout: .seconds(15)) == 0)
        #expect(watch.waitForExit(timeout: .seconds(5)) == 0)      // the stream ended cleanly
        #expect((try? String(contentsOfFile: out, encoding: .utf8)) == "")
        #expect(s.process.stdout.contains("kubesim: stopped"))
    }

    @Test func customResourceScaleSubresource() throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        try s.installCRD()
        let bq = try s.create(KubeSimServer.bqs, Fixture.batchQueue("batch1"))
        let scale = try s.get(KubeSimServer.bqs + "/batch1/scale")
        #expect(scale["kind"] as? String == "Scale")
        #expect(dig(scale, "spec", "replicas") as? Int == 20)
        #expect(dig(scale, "status", "replicas") as? Int == 0)
        #expect(resourceVersion(scale) == resourceVersion(bq))
        let patched = try s.curl("PATCH", KubeSimServer.bqs + "/batch1/scale", body: #"{"spec":{"replicas":7}}"#, contentType: "application/merge-patch+json")
        #expect(patched.status == 200)
        let after = try s.get(KubeSimServer.bqs + "/batch1")
        #expect(dig(after, "spec", "maxReplicas") as? Int == 7)
        #expect(generation(after) == 2)
        let negative = try s.curl("PATCH", KubeSimServer.bqs + "/batch1/scale", body: #"{"spec":{"replicas":-2}}"#, contentType: "application/merge-patch+json")
        #expect(negative.status == 422)
        // PUT /status on a CR needs a resourceVersion.
        var status = after
        status["status"] = ["phase": "Reserved"]
        var meta = status["metadata"] as! [String: Any]
        meta["resourceVersion"] = nil
        status["metadata"] = meta
        #expect(try s.curl("PUT", KubeSimServer.bqs + "/batch1/status", body: Fixture.json(status)).status == 422)
        meta["resourceVersion"] = resourceVersion(after)
        status["metadata"] = meta
        let put = try s.curl("PUT", KubeSimServer.bqs + "/batch1/status", body: Fixture.json(status))
        #expect(put.status == 200)
        #expect(dig(Fixture.parse(put.body), "status", "phase") as? String == "Reserved")
        // Deleting the CRD stops serving the resource.
        #expect(try s.curl("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/batchqueues.batchctl.dev").status == 200)
        #expect(try s.curl("GET", KubeSimServer.bqs).status == 404)
    }

    @Test func customResourcesArePrunedToTheirSchema() throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        try s.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", """
        {"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"widgets.example.com"},
         "spec":{"group":"example.com","scope":"Namespaced","names":{"plural":"widgets","kind":"Widget"},
          "versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object","properties":{
            "spec":{"type":"object","properties":{"size":{"type":"integer"},"labels":{"type":"object","additionalProperties":{"type":"string"}}}},
            "status":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}}}]}}
        """)
        let path = "/apis/example.com/v1/namespaces/default/widgets"
        let body = #"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"size":3,"extra":true,"labels":{"a":"b"}},"junk":1}"#
        let r = try s.curl("POST", path, body: body)
        #expect(r.status == 201)
        let created = Fixture.parse(r.body)
        #expect(dig(created, "spec", "size") as? Int == 3)
        #expect(dig(created, "spec", "labels", "a") as? String == "b")
        #expect(dig(created, "spec", "extra") == nil)
        #expect(created["junk"] == nil)
        #expect(r.headers["warning"]?.contains("unknown field") == true)
        let strict = try s.curl("POST", path + "?fieldValidation=Strict", body: body.replacingOccurrences(of: "\"w\"", with: "\"w2\""))
        #expect(strict.status == 400)
        #expect((Fixture.parse(strict.body)["message"] as? String)?.contains("unknown field \"spec.extra\"") == true)
    }

    @Test func finalizersDelayDeletionUntilRemoved() throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        try s.installCRD()
        var bq = Fixture.parse(Fixture.batchQueue("batch1"))
        var meta = bq["metadata"] as! [String: Any]
        meta["finalizers"] = ["batchctl.dev/release"]
        bq["metadata"] = meta
        try s.create(KubeSimServer.bqs, Fixture.json(bq))
        let deleting = try s.curl("DELETE", KubeSimServer.bqs + "/batch1")
        #expect(deleting.status == 200)
        #expect(dig(Fixture.parse(deleting.body), "metadata", "deletionTimestamp") != nil)
        #expect(try s.curl("GET", KubeSimServer.bqs + "/batch1").status == 200)
        let released = try s.curl("PATCH", KubeSimServer.bqs + "/batch1", body: #"{"metadata":{"finalizers":null}}"#, contentType: "application/merge-patch+json")
        #expect(released.status == 200)
        #expect(try s.curl("GET", KubeSimServer.bqs + "/batch1").status == 404)
        #expect(try s.curl("PUT", KubeSimServer.bqs, body: "{}").status == 405)
    }

    @Test func largeBodiesGet100Continue() throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        let body = Fixture.json(["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "big"], "data": ["k": String(repeating: "x", count: 1_500_000)]])
        let file = "\(s.directory)/big.json"
        try body.write(toFile: file, atomically: true, encoding: .utf8)
        let r = try Command.run("/usr/bin/curl", ["-sS", "-o", "/dev/null", "-D", "-", "--cacert", s.caPath,
                                                  "-H", "Authorization: Bearer \(s.token(for: "admin"))", "-H", "Content-Type: application/json",
                                                  "-H", "Expect: 100-continue", "--data-binary", "@\(file)", s.url + "/api/v1/namespaces/default/configmaps"])
        #expect(r.stdout.contains("HTTP/1.1 100 Continue"))
        #expect(r.stdout.contains("HTTP/1.1 201 Created"))
    }

    @Test func oneCurlInvocationReusesOneConnection() throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        let before = dig(try s.get("/kubesim/stats"), "connections") as? Int ?? -1
        var args = ["-sS", "-o", "/dev/null", "--cacert", s.caPath, "-H", "Authorization: Bearer \(s.token(for: "admin"))"]
        for _ in 0..<20 { args.append(s.url + "/api/v1/namespaces") }
        #expect(try Command.run("/usr/bin/curl", args).status == 0)
        let after = dig(try s.get("/kubesim/stats"), "connections") as? Int ?? -1
        #expect(after - before == 2)     // the 20 requests on one connection, plus this GET
    }
}
