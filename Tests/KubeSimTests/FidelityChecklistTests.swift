import BatchTesting
import Foundation
import Testing

/// The reference's appendix "emulator fidelity checklist", item by item, against a real `kubesim` process over HTTPS.
@Suite struct FidelityChecklistTests {
    // 1. Errors are Status objects; APF 429s are plain text with Retry-After.
    @Test func item1_errorsAreStatusObjectsWithPluralKindAndGroup() throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        let r = try s.curl("GET", KubeSimServer.deployments + "/nope")
        #expect(r.status == 404)
        let body = Fixture.parse(r.body)
        #expect(body["kind"] as? String == "Status")
        #expect(body["apiVersion"] as? String == "v1")
        #expect((body["metadata"] as? [String: Any])?.isEmpty == true)
        #expect(body["status"] as? String == "Failure")
        #expect(body["reason"] as? String == "NotFound")
        #expect(body["code"] as? Int == 404)
        #expect(body["message"] as? String == "deployments.apps \"nope\" not found")
        #expect(dig(body, "details", "kind") as? String == "deployments")
        #expect(dig(body, "details", "group") as? String == "apps")
        #expect(dig(body, "details", "name") as? String == "nope")

        let core = Fixture.parse(try s.curl("GET", "/api/v1/namespaces/default/pods/nope").body)
        #expect(core["message"] as? String == "pods \"nope\" not found")
        #expect(dig(core, "details", "group") == nil)

        let exists = try s.curl("POST", "/api/v1/namespaces", body: #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}}"#)
        #expect(exists.status == 409)
        #expect(Fixture.parse(exists.body)["reason"] as? String == "AlreadyExists")
    }

    @Test func item1_priorityAndFairness429IsPlainTextWithRetryAfter() throws {
        let s = try KubeSimServer.start(faults: "get /apis/apps/v1/** status=429,retryAfter=3,count=1")
        defer { s.stop() }
        let r = try s.curl("GET", KubeSimServer.deployments)
        #expect(r.status == 429)
        #expect(r.headers["retry-after"] == "3")
        #expect(r.headers["content-type"]?.hasPrefix("text/plain") == true)
        #expect(r.body.hasPrefix("Too many requests"))
        #expect(try s.curl("GET", KubeSimServer.deployments).status == 200)
    }

    // 2. resourceVersion: changes on every write; PUT stale → 409; PUT without RV: Deployment/Lease ok, CR 422;
    //    patches without RV apply, with RV are preconditions.
    @Test func item2_resourceVersionPreconditions() throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        let created = try s.create(KubeSimServer.deployments, Fixture.deployment("web"))
        let rv1 = resourceVersion(created)
        var updated = created
        var meta = updated["metadata"] as! [String: Any]
        meta["labels"] = ["app": "web", "tier": "front"]
        updated["metadata"] = meta
        let put = try s.curl("PUT", KubeSimServer.deployments + "/web", body: Fixture.json(updated))
        #expect(put.status == 200)
        let rv2 = resourceVersion(Fixture.parse(put.body))
        #expect(rv2 != rv1)

        let stale = try s.curl("PUT", KubeSimServer.deployments + "/web", body: Fixture.json(updated))
        #expect(stale.status == 409)
        #expect(Fixture.parse(stale.body)["message"] as? String
                == "Operation cannot be fulfilled on deployments.apps \"web\": the object has been modified; please apply your changes to the latest version and try again")

        meta["resourceVersion"] = nil
        updated["metadata"] = meta
        #expect(try s.curl("PUT", KubeSimServer.deployments + "/web", body: Fixture.json(updated)).status == 200)

        let leases = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
        try s.create(leases, #"{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"l"},"spec":{"holderIdentity":"a"}}"#)
        #expect(try s.curl("PUT", leases + "/l", body: #"{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"l"},"spec":{"holderIdentity":"b"}}"#).status == 200)

        try s.installCRD()
        try s.create(KubeSimServer.bqs, Fixture.batchQueue("batch1"))
        let crPut = try s.curl("PUT", KubeSimServer.bqs + "/batch1", body: Fixture.batchQueue("batch1", holder: "bob"))
        #expect(crPut.status == 422)
        #expect((Fixture.parse(crPut.body)["message"] as? String)?.contains("metadata.resourceVersion: Invalid value: 0x0: must be specified for an update") == true)

        let patchNoRV = try s.curl("PATCH", KubeSimServer.deployments + "/web", body: #"{"metadata":{"labels":{"x":"1"}}}"#, contentType: "application/merge-patch+json")
        #expect(patchNoRV.status == 200)
        let stalePatch = try s.curl("PATCH", KubeSimServer.deployments + "/web", body: "{\"metadata\":{\"resourceVersion\":\"\(rv1)\",\"labels\":{\"x\":\"2\"}}}",
                                    contentType: "application/merge-patch+json")
        #expect(stalePatch.status == 409)
        // The current resourceVersion applies. KubeSim's Deployment controller may publish status between the
        // read and the patch (as a real one does), moving the version: re-read and try again, a bounded number of times.
        var goodStatus = 0
        for _ in 0..<5 where goodStatus != 200 {
            let current = resourceVersion(try s.get(KubeSimServer.deployments + "/web"))
            goodStatus = try s.curl("PATCH", KubeSimServer.deployments + "/web", body: "{\"metadata\":{\"resourceVersion\":\"\(current)\",\"labels\":{\"x\":\"3\"}}}",
                                    contentType: "application/merge-patch+json").status
            #expect(goodStatus == 200 || goodStatus == 409)
        }
        #expect(goodStatus == 200)
    }

    /// `/scale` and its Deployment read with no write between them: the deployment controller writes the
    /// status on its own, so the pair is read again (at most 20 times) until the Deployment read before and
    /// after the scale agree.
    func scaleWithParent(_ s: KubeSimServer, _ name: String) throws -> (scale: [String: Any], parent: [String: Any]) {
        for _ in 0..<20 {
            let before = try s.get(KubeSimServer.deployments + "/" + name)
            let scale = try s.get(KubeSimServer.deployments + "/" + name + "/scale")
            let after = try s.get(KubeSimServer.deployments + "/" + name)
            if resourceVersion(before) == resourceVersion(after) { return (scale, after) }
        }
        Issue.record("the Deployment \(name) changed during each of 20 reads")
        return ([:], [:])
    }

    // 3. /scale shares the parent's RV, bumps its generation, speaks autoscaling/v1 Scale, omits spec.replicas at 0.
    @Test func item3_scaleSubresource() throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        let d = try s.create(KubeSimServer.deployments, Fixture.deployment("web", replicas: 2))
        let (scale, parent) = try scaleWithParent(s, "web")
        #expect(scale["kind"] as? String == "Scale")
        #expect(scale["apiVersion"] as? String == "autoscaling/v1")
        #expect(resourceVersion(scale) == resourceVersion(parent))
        #expect(dig(scale, "spec", "replicas") as? Int == 2)
        #expect(dig(scale, "status", "selector") as? String == "app=web")

        let patched = try s.curl("PATCH", KubeSimServer.deployments + "/web/scale", body: #"{"spec":{"replicas":0}}"#,
                                 contentType: "application/merge-patch+json")
        #expect(patched.status == 200)
        let body = Fixture.parse(patched.body)
        #expect(body["kind"] as? String == "Scale")
        #expect(body["apiVersion"] as? String == "autoscaling/v1")
        #expect((body["spec"] as? [String: Any])?.isEmpty == true)
        #expect(dig(body, "status", "replicas") != nil)
        let after = try s.get(KubeSimServer.deployments + "/web")
        // The Deployment's RV as the write left it, or a later one when the deployment controller has
        // written the status since (as kube-controller-manager does).
        #expect((Int(resourceVersion(after)) ?? 0) >= (Int(resourceVersion(body)) ?? .max))
        let (scaleAfter, parentAfter) = try scaleWithParent(s, "web")
        #expect(resourceVersion(scaleAfter) == resourceVersion(parentAfter))
        #expect(generation(after) == generation(d) + 1)
        #expect(dig(after, "spec", "replicas") as? Int == 0)

        let negative = try s.curl("PUT", KubeSimServer.deployments + "/web/scale",
                                  body: #"{"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"web"},"spec":{"replicas":-1}}"#)
        #expect(negative.status == 422)
        #expect(Fixture.parse(negative.body)["message"] as? String
                == "Scale.autoscaling \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0")
        #expect(dig(Fixture.parse(negative.body), "details", "kind") as? String == "Scale")

        let stale = try s.curl("PUT", KubeSimServer.deployments + "/web/scale",
                               body: "{\"kind\":\"Scale\",\"apiVersion\":\"autoscaling/v1\",\"metadata\":{\"name\":\"web\",\"resourceVersion\":\"\(resourceVersion(d))\"},\"spec\":{\"replicas\":4}}")
        #expect(stale.status == 409)
        let wrongUID = try s.curl("PATCH", KubeSimServer.deployments + "/web/scale", body: #"{"metadata":{"uid":"not-the-uid"},"spec":{"replicas":1}}"#,
                                  contentType: "application/merge-patch+json")
        #expect(wrongUID.status == 409)
        #expect((Fixture.parse(wrongUID.body)["message"] as? String)?.contains("Precondition failed: UID in precondition: not-the-uid") == true)
        #expect(try s.curl("PATCH", KubeSimServer.deployments + "/missing/scale", body: #"{"spec":{"replicas":1}}"#,
                           contentType: "application/merge-patch+json").status == 404)
    }

    // 4. Generation and the status split.
    @Test func item4_generationAndStatusRules() throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        try s.installCRD()
        let created = try s.create(KubeSimServer.bqs, Fixture.batchQueue("batch1", status: ["phase": "Forged"]))
        #expect(created["status"] == nil)        // create drops status
        #expect(generation(created) == 1)

        let labels = try s.curl("PATCH", KubeSimServer.bqs + "/batch1", body: #"{"metadata":{"labels":{"a":"b"}}}"#, contentType: "application/merge-patch+json")
        #expect(generation(Fixture.parse(labels.body)) == 1)      // metadata only: no bump
        let spec = try s.curl("PATCH", KubeSimServer.bqs + "/batch1", body: #"{"spec":{"maxReplicas":5},"status":{"phase":"X"}}"#, contentType: "application/merge-patch+json")
        #expect(generation(Fixture.parse(spec.body)) == 2)
        #expect(Fixture.parse(spec.body)["status"] == nil)        // main resource writes never change status

        let status = try s.curl("PATCH", KubeSimServer.bqs + "/batch1/status", body: #"{"spec":{"maxReplicas":9},"status":{"phase":"Reserved"}}"#,
                                contentType: "application/merge-patch+json")
        let st = Fixture.parse(status.body)
        #expect(status.status == 200)
        #expect(generation(st) == 2)
        #expect(dig(st, "status", "phase") as? String == "Reserved")
        #expect(dig(st, "spec", "maxReplicas") as? Int == 5)       // /status ignores spec

        let d = try s.create(KubeSimServer.deployments, Fixture.deployment("web"))
        let annotated = try s.curl("PATCH", KubeSimServer.deployments + "/web", body: #"{"metadata":{"annotations":{"note":"x"}}}"#,
                                   contentType: "application/merge-patch+json")
        #expect(generation(Fixture.parse(annotated.body)) == generation(d) + 1)   // Deployments: annotations bump
        let labelled = try s.curl("PATCH", KubeSimServer.deployments + "/web", body: #"{"metadata":{"labels":{"x":"y"}}}"#,
                                  contentType: "application/merge-patch+json")
        #expect(generation(Fixture.parse(labelled.body)) == generation(d) + 1)
    }

    // 5. Watch.
    @Test func item5_watchStartPointsSyntheticAddedAndCleanEnd() throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        let d = try s.createSettledDeployment("web")
        for rv in ["", "0"] {
            let r = try s.curl("GET", KubeSimServer.deployments + "?watch=1&timeoutSeconds=1&resourceVersion=\(rv)")
            #expect(r.status == 200)
            #expect(r.curlExitCode == 0)      // clean end at timeoutSeconds
            let events = Fixture.events(r.body)
            #expect(events.count == 1)
            #expect(events.first?["type"] as? String == "ADDED")
            #expect(dig(events.first, "object", "kind") as? String == "Deployment")
            #expect(r.headers["content-type"] == "application/json")
        }
        // From N: only later changes.
        let later = try s.curl("GET", KubeSimServer.deployments + "?watch=true&timeoutSeconds=1&resourceVersion=\(resourceVersion(d))")
        #expect(later.body.isEmpty)
        _ = try s.curl("PATCH", KubeSimServer.deployments + "/web", body: #"{"metadata":{"labels":{"x":"1"}}}"#, contentType: "application/merge-patch+json")
        let replay = Fixture.events(try s.curl("GET", KubeSimServer.deployments + "?watch=true&timeoutSeconds=1&resourceVersion=\(resourceVersion(d))").body)
        #expect(replay.map { $0["type"] as? String } .contains("MODIFIED"))
        #expect(!replay.map { $0["type"] as? String } .contains("ADDED"))
        // Every line is one compact JSON object.
        #expect(!later.body.contains("\n "))
    }

    @Test func item5_watchHeadersAreFlushedBeforeAnyEvent() throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        let rv = resourceVersion(try s.get(KubeSimServer.deployments))
        // No event will come; curl gives up after 2 s, but it must already have the 200 headers.
        let r = try s.curl("GET", KubeSimServer.deployments + "?watch=1&timeoutSeconds=60&resourceVersion=\(rv)", maxTime: 2)
        #expect(r.curlExitCode == 28)
        #expect(r.status == 200)
        #expect(r.headers["content-type"] == "application/json")
    }

    @Test func item5_selectorTransitionsAndBookmarks() throws {
        let s = try KubeSimServer.start(extraArguments: ["--bookmark-interval-ms", "200"])
        defer { s.stop() }
        let d = try s.createSettledDeployment("web")
        let (watch, out) = try s.startWatch(KubeSimServer.deployments + "?watch=1&labelSelector=tier%3Dfront&timeoutSeconds=3&allowWatchBookmarks=true&resourceVersion=\(resourceVersion(d))")
        defer { watch.stop() }
        Thread.sleep(forTimeInterval: 0.3)   // the watch is established: curl shows nothing until the first event
        _ = try s.curl("PATCH", KubeSimServer.deployments + "/web", body: #"{"metadata":{"labels":{"tier":"front"}}}"#, contentType: "application/merge-patch+json")
        _ = try s.curl("PATCH", KubeSimServer.deployments + "/web", body: #"{"metadata":{"labels":{"tier":"back"}}}"#, contentType: "application/merge-patch+json")
        #expect(watch.waitForExit(timeout: .seconds(10)) == 0)
        let events = Fixture.events((try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
        let types = events.compactMap { $0["type"] as? String }.filter { $0 != "BOOKMARK" }
        #expect(types == ["ADDED", "DELETED"])
        let bookmarks = events.filter { $0["type"] as? String == "BOOKMARK" }
        #expect(!bookmarks.isEmpty)
        #expect(dig(bookmarks.first, "object", "kind") as? String == "Deployment")
        #expect(!(dig(bookmarks.first, "object", "metadata", "resourceVersion") as? String ?? "").isEmpty)

        // Without allowWatchBookmarks: none.
        let plain = try s.curl("GET", KubeSimServer.deployments + "?watch=1&timeoutSeconds=1&resourceVersion=\(resourceVersion(d))")
        #expect(!plain.body.contains("BOOKMARK"))
    }

    @Test func item5_tooOldResourceVersionGives410ErrorEvent() throws {
        let s = try KubeSimServer.start(extraArguments: ["--watch-history", "2"])
        defer { s.stop() }
        let d = try s.createSettledDeployment("web")
        for i in 0..<5 {
            _ = try s.curl("PATCH", KubeSimServer.deployments + "/web", body: "{\"metadata\":{\"labels\":{\"n\":\"\(i)\"}}}", contentType: "application/merge-patch+json")
        }
        let r = try s.curl("GET", KubeSimServer.deployments + "?watch=1&timeoutSeconds=5&resourceVersion=\(resourceVersion(d))")
        #expect(r.status == 200)
        let events = Fixture.events(r.body)
        #expect(events.count == 1)
        #expect(events.first?["type"] as? String == "ERROR")
        #expect(dig(events.first, "object", "code") as? Int == 410)
        #expect(dig(events.first, "object", "reason") as? String == "Expired")
        #expect((dig(events.first, "object", "message") as? String)?.hasPrefix("too old resource version: \(resourceVersion(d))") == true)
    }

    // 6. Lists.
    @Test func item6_listsCarryKindVersionAndResourceVersion() throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        try s.create(KubeSimServer.deployments, Fixture.deployment("web"))
        let list = try s.get(KubeSimServer.deployments + "?limit=500&continue=")
        #expect(list["kind"] as? String == "DeploymentList")
        #expect(list["apiVersion"] as? String == "apps/v1")
        #expect(!(dig(list, "metadata", "resourceVersion") as? String ?? "").isEmpty)
        let item = (list["items"] as? [[String: Any]])?.first
        #expect(item?["kind"] == nil)
        #expect(item?["apiVersion"] == nil)

        // A version from the future: 504 Too large resource version (after a bounded wait).
        let future = try s.curl("GET", KubeSimServer.deployments + "?resourceVersion=999999&resourceVersionMatch=NotOlderThan")
        #expect(future.status == 504)
        #expect((Fixture.parse(future.body)["message"] as? String)?.hasPrefix("Timeout: Too large resource version: 999999, current: ") == true)
        #expect(dig(Fixture.parse(future.body), "details", "causes", "0", "reason") as? String == "ResourceVersionTooLarge")
        #expect(future.headers["retry-after"] == "1")

        // limit/continue are honoured.
        try s.create(KubeSimServer.deployments, Fixture.deployment("api"))
        try s.create(KubeSimServer.deployments, Fixture.deployment("worker"))
        let page1 = try s.get(KubeSimServer.deployments + "?limit=2")
        #expect((page1["items"] as? [[String: Any]])?.count == 2)
        let token = dig(page1, "metadata", "continue") as? String ?? ""
        #expect(!token.isEmpty)
        #expect(dig(page1, "metadata", "remainingItemCount") as? Int == 1)
        let page2 = try s.get(KubeSimServer.deployments + "?limit=2&continue=\(token)")
        #expect((page2["items"] as? [[String: Any]])?.compactMap { dig($0, "metadata", "name") as? String } == ["worker"])
        #expect(dig(page2, "metadata", "continue") == nil)

        try s.installCRD()
        try s.create(KubeSimServer.bqs, Fixture.batchQueue("batch1"))
        let crs = try s.get(KubeSimServer.bqs)
        #expect(crs["kind"] as? String == "BatchQueueList")
        #expect((crs["items"] as? [[String: Any]])?.first?["kind"] as? String == "BatchQueue")
    }

    // 7. Field selectors.
    @Test func item7_fieldSelectors() throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        try s.create(KubeSimServer.deployments, Fixture.deployment("web"))
        try s.create(KubeSimServer.deployments, Fixture.deployment("api"))
        let byName = try s.get(KubeSimServer.deployments + "?fieldSelector=metadata.name%3Dweb")
        #expect((byName["items"] as? [[String: Any]])?.count == 1)
        let notName = try s.get("/apis/apps/v1/deployments?fieldSelector=metadata.name!%3Dweb,metadata.namespace%3Ddefault")
        #expect((notName["items"] as? [[String: Any]])?.count == 1)

        let events = "/apis/events.k8s.io/v1/namespaces/default/events"
        for (name, kind) in [("e1", "Deployment"), ("e2", "BatchQueue")] {
            try s.create(events, Fixture.json(["apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": ["name": name],
                                                "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "x/y", "reportingInstance": "i",
                                                "action": "A", "reason": "R", "type": "Normal", "note": "n",
                                                "regarding": ["kind": kind, "name": "web", "namespace": "default", "uid": "u-\(name)"]]))
        }
        let core = try s.get("/api/v1/namespaces/default/events?fieldSelector=involvedObject.kind%3DDeployment,involvedObject.name%3Dweb,involvedObject.namespace%3Ddefault,involvedObject.uid%3Du-e1")
        #expect((core["items"] as? [[String: Any]])?.count == 1)

        try s.installCRD()
        let unsupported = try s.curl("GET", KubeSimServer.bqs + "?fieldSelector=spec.queue%3Dx")
        #expect(unsupported.status == 400)
        #expect(Fixture.parse(unsupported.body)["message"] as? String == "field label not supported: spec.queue")
    }

    // 8. Content types.
    @Test func item8_patchContentTypes() throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        try s.create(KubeSimServer.deployments, Fixture.deployment("web"))
        let unknown = try s.curl("PATCH", KubeSimServer.deployments + "/web", body: "{}", contentType: "application/json")
        #expect(unknown.status == 415)
        #expect(Fixture.parse(unknown.body)["reason"] as? String == "UnsupportedMediaType")
        let strategic = try s.curl("PATCH", KubeSimServer.deployments + "/web",
                                   body: #"{"spec":{"template":{"spec":{"containers":[{"name":"main","image":"busybox:2"}]}}}}"#,
                                   contentType: "application/strategic-merge-patch+json")
        #expect(strategic.status == 200)
        let jsonPatchFail = try s.curl("PATCH", KubeSimServer.deployments + "/web", body: #"[{"op":"test","path":"/spec/replicas","value":7}]"#,
                                       contentType: "application/json-patch+json")
        #expect(jsonPatchFail.status == 422)
        let noManager = try s.curl("PATCH", KubeSimServer.deployments + "/web/scale", body: #"{"apiVersion":"autoscaling/v1","kind":"Scale","spec":{"replicas":2}}"#,
                                   contentType: "application/apply-patch+yaml")
        #expect(noManager.status == 422)
        #expect(dig(Fixture.parse(noManager.body), "details", "kind") as? String == "PatchOptions")
        let force = try s.curl("PATCH", KubeSimServer.deployments + "/web?force=true", body: "{}", contentType: "application/merge-patch+json")
        #expect(force.status == 422)
        #expect((Fixture.parse(force.body)["message"] as? String)?.contains("force: Forbidden: may not be specified for non-apply patch") == true)
        let apply = try s.curl("PATCH", KubeSimServer.deployments + "/web/scale?fieldManager=op&force=true",
                               body: #"{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"web"},"spec":{"replicas":4}}"#,
                               contentType: "application/apply-patch+yaml")
        #expect(apply.status == 200)
        #expect(dig(Fixture.parse(apply.body), "spec", "replicas") as? Int == 4)
        let wrongVersion = try s.curl("PATCH", KubeSimServer.deployments + "/web/scale?fieldManager=op",
                                      body: #"{"apiVersion":"apps/v1","kind":"Deployment","spec":{"replicas":4}}"#, contentType: "application/apply-patch+yaml")
        #expect(wrongVersion.status == 400)

        // Field ownership: kubectl's /scale write owns .spec.replicas; an apply by another manager conflicts
        // unless forced, and the conflict names the owner and the field.
        let scaled = try s.curl("PATCH", KubeSimServer.deployments + "/web/scale", body: #"{"spec":{"replicas":3}}"#,
                                contentType: "application/merge-patch+json", headers: ["User-Agent: kubectl/v1.32.4 (linux/amd64) kubernetes/abc"])
        #expect(scaled.status == 200)
        let applyBody = #"{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"web"},"spec":{"replicas":5}}"#
        let conflict = try s.curl("PATCH", KubeSimServer.deployments + "/web/scale?fieldManager=reservation-operator", body: applyBody,
                                  contentType: "application/apply-patch+yaml")
        #expect(conflict.status == 409)
        let status = Fixture.parse(conflict.body)
        #expect(status["message"] as? String == "Apply failed with 1 conflict: conflict with \"kubectl\" with subresource \"scale\" using apps/v1: .spec.replicas")
        #expect(dig(status, "details", "causes", "0", "field") as? String == ".spec.replicas")
        #expect(dig(status, "details", "causes", "0", "reason") as? String == "FieldManagerConflict")
        let forced = try s.curl("PATCH", KubeSimServer.deployments + "/web/scale?fieldManager=reservation-operator&force=true", body: applyBody,
                                contentType: "application/apply-patch+yaml")
        #expect(forced.status == 200)
        let managers = (dig(try s.get(KubeSimServer.deployments + "/web"), "metadata", "managedFields") as? [[String: Any]] ?? [])
        let owner = managers.first { (dig($0, "fieldsV1", "f:spec", "f:replicas")) != nil }
        #expect(owner?["manager"] as? String == "reservation-operator")
        #expect(owner?["operation"] as? String == "Apply")
        #expect(owner?["subresource"] as? String == "scale")

        try s.installCRD()
        try s.create(KubeSimServer.bqs, Fixture.batchQueue("batch1"))
        let crStrategic = try s.curl("PATCH", KubeSimServer.bqs + "/batch1", body: "{}", contentType: "application/strategic-merge-patch+json")
        #expect(crStrategic.status == 415)
    }

    // 9. Discovery.
    @Test func item9_discoveryIsLegacyJSONForEveryGroupVersion() throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        try s.installCRD()
        let aggregatedAccept = "Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
        let apis = try s.curl("GET", "/apis", headers: [aggregatedAccept])
        #expect(apis.headers["content-type"] == "application/json")
        let groups = Fixture.parse(apis.body)["groups"] as? [[String: Any]] ?? []
        #expect(Fixture.parse(apis.body)["kind"] as? String == "APIGroupList")
        #expect(groups.contains { $0["name"] as? String == "batchctl.dev" })
        for g in groups {
            for v in g["versions"] as? [[String: Any]] ?? [] {
                let gv = v["groupVersion"] as? String ?? ""
                let r = try s.curl("GET", "/apis/\(gv)")
                #expect(r.status == 200, "\(gv)")
                #expect(Fixture.parse(r.body)["kind"] as? String == "APIResourceList")
            }
        }
        let apps = try s.get("/apis/apps/v1")
        let scale = (apps["resources"] as? [[String: Any]])?.first { $0["name"] as? String == "deployments/scale" }
        #expect(scale?["group"] as? String == "autoscaling")
        #expect(scale?["version"] as? String == "v1")
        #expect(scale?["kind"] as? String == "Scale")
        let core = try s.get("/api")
        #expect(core["versions"] as? [String] == ["v1"])
        let v1 = try s.get("/api/v1")
        #expect((v1["resources"] as? [[String: Any]])?.contains { $0["name"] as? String == "events" } == true)
        let crs = try s.get("/apis/batchctl.dev/v1alpha1")
        let names = (crs["resources"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(names == ["batchqueues", "batchqueues/status", "batchqueues/scale"])
        #expect(try s.get("/version")["gitVersion"] != nil)
    }

    // 10. Leases are plain RV-checked objects; events are one store with two views.
    @Test func item10_leasesAndEventViews() throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        let leases = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
        let lease = try s.create(leases, #"{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"leader"},"spec":{"holderIdentity":"a","leaseDurationSeconds":1,"renewTime":"2020-01-01T00:00:00.000000Z"}}"#)
        Thread.sleep(forTimeInterval: 1.2)   // the point: time past the lease duration changes nothing on the server
        let still = try s.get(leases + "/leader")
        #expect(dig(still, "spec", "holderIdentity") as? String == "a")      // no server-side expiry
        var taken = lease
        taken["spec"] = ["holderIdentity": "b"]
        #expect(try s.curl("PUT", leases + "/leader", body: Fixture.json(taken)).status == 200)
        #expect(try s.curl("PUT", leases + "/leader", body: Fixture.json(taken)).status == 409)   // stale RV

        try s.create("/apis/events.k8s.io/v1/namespaces/default/events", Fixture.json([
            "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": ["name": "web.1"], "eventTime": "2026-01-01T00:00:00.000000Z",
            "reportingController": "batchctl.dev/controller", "reportingInstance": "ctl-0", "action": "Scale", "reason": "ScaledUp",
            "type": "Normal", "note": "scaled", "regarding": ["apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "namespace": "default"]]))
        let core = try s.get("/api/v1/namespaces/default/events/web.1")
        #expect(core["apiVersion"] as? String == "v1")
        #expect(core["message"] as? String == "scaled")
        #expect(core["reportingComponent"] as? String == "batchctl.dev/controller")
        #expect(dig(core, "involvedObject", "name") as? String == "web")
        #expect(core["note"] == nil)

        try s.create("/api/v1/namespaces/default/events", Fixture.json([
            "apiVersion": "v1", "kind": "Event", "metadata": ["name": "web.2"], "message": "old style", "reason": "Old", "type": "Warning",
            "involvedObject": ["kind": "Deployment", "name": "web", "namespace": "default"], "source": ["component": "legacy"],
            "firstTimestamp": "2026-01-01T00:00:00Z", "count": 3]))
        let modern = try s.get("/apis/events.k8s.io/v1/namespaces/default/events/web.2")
        #expect(modern["note"] as? String == "old style")
        #expect(modern["deprecatedCount"] as? Int == 3)
        #expect(dig(modern, "deprecatedSource", "component") as? String == "legacy")
        #expect(dig(modern, "regarding", "kind") as? String == "Deployment")

        let invalid = try s.curl("POST", "/apis/events.k8s.io/v1/namespaces/default/events",
                                 body: #"{"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"bad"},"type":"Odd"}"#)
        #expect(invalid.status == 422)
    }

    // 11. Custom resources are validated against their CRD's openAPIV3Schema: 422 Invalid with field causes, on
    // create, update and the status subresource (apiextensions-apiserver's ValidateCustomResource, kube-openapi's messages).
    static let widgetCRD = """
        {"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"widgets.test.dev"},
         "spec":{"group":"test.dev","scope":"Namespaced","names":{"plural":"widgets","singular":"widget","kind":"Widget"},
          "versions":[{"name":"v1","served":true,"storage":true,"subresources":{"status":{}},
           "schema":{"openAPIV3Schema":{"type":"object","required":["spec"],"properties":{
             "spec":{"type":"object","required":["size"],"properties":{
               "size":{"type":"integer","minimum":1,"maximum":10},
               "color":{"type":"string","enum":["red","blue"],"default":"red"},
               "limits":{"type":"object","default":{},"properties":{"max":{"type":"integer","default":5}}},
               "name":{"type":"string","maxLength":5,"pattern":"^[a-z]+$"},
               "at":{"type":"string","format":"date-time"}}},
             "status":{"type":"object","properties":{"count":{"type":"integer","minimum":0},"phase":{"type":"string","enum":["Up","Down"]}}}}}}}]}}
        """
    static let widgets = "/apis/test.dev/v1/namespaces/default/widgets"

    struct SchemaCase: Sendable, CustomStringConvertible {
        var spec: String
        var reason: String
        var field: String
        var message: String
        var description: String { spec }
    }

    static let schemaCases: [SchemaCase] = [
        .init(spec: #"{"size":"big"}"#, reason: "FieldValueTypeInvalid", field: "spec.size",
              message: #"Invalid value: "string": spec.size in body must be of type integer: "string""#),
        .init(spec: #"{"size":2,"color":"green"}"#, reason: "FieldValueNotSupported", field: "spec.color",
              message: #"Unsupported value: "green": supported values: "red", "blue""#),
        .init(spec: #"{"size":0}"#, reason: "FieldValueInvalid", field: "spec.size",
              message: "Invalid value: 0: spec.size in body should be greater than or equal to 1"),
        .init(spec: #"{"size":11}"#, reason: "FieldValueInvalid", field: "spec.size",
              message: "Invalid value: 11: spec.size in body should be less than or equal to 10"),
        .init(spec: #"{"color":"red"}"#, reason: "FieldValueRequired", field: "spec.size", message: "Required value"),
        .init(spec: #"{"size":2,"at":"tomorrow"}"#, reason: "FieldValueTypeInvalid", field: "spec.at",
              message: #"Invalid value: "tomorrow": spec.at in body must be of type date-time: "tomorrow""#),
        .init(spec: #"{"size":2,"name":"Ab"}"#, reason: "FieldValueInvalid", field: "spec.name",
              message: #"Invalid value: "Ab": spec.name in body should match '^[a-z]+$'"#),
        .init(spec: #"{"size":2,"name":"abcdef"}"#, reason: "FieldValueTooLong", field: "spec.name",
              message: "Too long: may not be more than 5 bytes"),
    ]

    static func expectInvalid(_ r: CurlResult, _ c: SchemaCase, name: String, _ context: String) {
        #expect(r.status == 422, "\(context): \(r.status) \(r.body)")
        let body = Fixture.parse(r.body)
        #expect(body["kind"] as? String == "Status" && body["status"] as? String == "Failure", "\(context): \(r.body)")
        #expect(body["reason"] as? String == "Invalid", "\(context): \(r.body)")
        #expect(body["code"] as? Int == 422)
        #expect(body["message"] as? String == "Widget.test.dev \"\(name)\" is invalid: \(c.field): \(c.message)", "\(context): \(r.body)")
        #expect(dig(body, "details", "kind") as? String == "Widget" && dig(body, "details", "group") as? String == "test.dev")
        #expect(dig(body, "details", "name") as? String == name)
        let causes = dig(body, "details", "causes") as? [[String: Any]] ?? []
        #expect(causes.count == 1 && causes.first?["reason"] as? String == c.reason && causes.first?["field"] as? String == c.field
                && causes.first?["message"] as? String == c.message, "\(context): \(causes)")
    }

    @Test(arguments: schemaCases)
    func item11_aCustomResourceThatBreaksItsSchemaIsRefusedOnCreateAndUpdate(_ c: SchemaCase) throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        try s.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", Self.widgetCRD)
        #expect(Wait.until(timeout: .seconds(10)) { (try? s.curl("GET", Self.widgets).status) == 200 })
        let create = try s.curl("POST", Self.widgets, body: #"{"apiVersion":"test.dev/v1","kind":"Widget","metadata":{"name":"bad"},"spec":\#(c.spec)}"#)
        Self.expectInvalid(create, c, name: "bad", "create")
        #expect(try s.curl("GET", Self.widgets + "/bad").status == 404)

        let good = try s.create(Self.widgets, #"{"apiVersion":"test.dev/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"size":3}}"#)
        var replaced = good
        replaced["spec"] = Fixture.parse(c.spec)
        Self.expectInvalid(try s.curl("PUT", Self.widgets + "/w", body: Fixture.json(replaced)), c, name: "w", "update")
        var patchSpec = Fixture.parse(c.spec)
        if patchSpec["size"] == nil { patchSpec["size"] = NSNull() }   // a merge patch removes a field with null
        Self.expectInvalid(try s.curl("PATCH", Self.widgets + "/w", body: Fixture.json(["spec": patchSpec]), contentType: "application/merge-patch+json"),
                           c, name: "w", "patch")
        #expect(dig(try s.get(Self.widgets + "/w"), "spec", "size") as? Int == 3)
    }

    @Test func item11_theStatusSubresourceIsValidatedToo() throws {
        let s = try KubeSimServer.start()
        defer { s.stop() }
        try s.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", Self.widgetCRD)
        #expect(Wait.until(timeout: .seconds(10)) { (try? s.curl("GET", Self.widgets).status) == 200 })
        let created = try s.create(Self.widgets, #"{"apiVersion":"test.dev/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"size":3}}"#)
        // Structural defaulting: missing properties take their defaults, also inside a defaulted object.
        #expect(dig(created, "spec", "color") as? String == "red")
        #expect(dig(created, "spec", "limits", "max") as? Int == 5)
        let merge = "application/merge-patch+json"
        Self.expectInvalid(try s.curl("PATCH", Self.widgets + "/w/status", body: #"{"status":{"count":-1}}"#, contentType: merge),
                           .init(spec: "", reason: "FieldValueInvalid", field: "status.count",
                                 message: "Invalid value: -1: status.count in body should be greater than or equal to 0"), name: "w", "status minimum")
        Self.expectInvalid(try s.curl("PATCH", Self.widgets + "/w/status", body: #"{"status":{"phase":"Sideways"}}"#, contentType: merge),
                           .init(spec: "", reason: "FieldValueNotSupported", field: "status.phase",
                                 message: #"Unsupported value: "Sideways": supported values: "Up", "Down""#), name: "w", "status enum")
        Self.expectInvalid(try s.curl("PATCH", Self.widgets + "/w/status", body: #"{"status":{"count":"many"}}"#, contentType: merge),
                           .init(spec: "", reason: "FieldValueTypeInvalid", field: "status.count",
                                 message: #"Invalid value: "string": status.count in body must be of type integer: "string""#), name: "w", "status type")
        #expect(try s.curl("PATCH", Self.widgets + "/w/status", body: #"{"status":{"count":2,"phase":"Up"}}"#, contentType: merge).status == 200)
        // Several errors: one cause each, the message lists them in brackets.
        let two = try s.curl("POST", Self.widgets, body: #"{"apiVersion":"test.dev/v1","kind":"Widget","metadata":{"name":"two"},"spec":{"size":0,"color":"green"}}"#)
        #expect(two.status == 422)
        #expect(Fixture.parse(two.body)["message"] as? String
                == #"Widget.test.dev "two" is invalid: [spec.color: Unsupported value: "green": supported values: "red", "blue", spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1]"#,
                "\(two.body)")
    }

    // 11b. CEL rules of the schema (x-kubernetes-validations), with cel-python: `self` where declared, `oldSelf`
    // on update (transition rules only then), and no CEL after a blocking error.
    static let gadgetCRD = """
        {"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"gadgets.test.dev"},
         "spec":{"group":"test.dev","scope":"Namespaced","names":{"plural":"gadgets","singular":"gadget","kind":"Gadget"},
          "versions":[{"name":"v1","served":true,"storage":true,
           "schema":{"openAPIV3Schema":{"type":"object","properties":{
             "spec":{"type":"object","required":["min","max"],
               "x-kubernetes-validations":[{"rule":"self.min <= self.max","message":"min must not exceed max"},
                                           {"rule":"self.max <= 100"},
                                           {"rule":"self.max >= oldSelf.max","message":"max may only grow"}],
               "properties":{"min":{"type":"integer"},"max":{"type":"integer"},"note":{"type":"string"}}}}}}}]}}
        """

    @Test func item11b_crdValidationRulesAreEvaluatedWithSelfAndOldSelf() throws {
        let s = try KubeSimServer.start(extraArguments: ["--cel-python", DeployPolicies.celPython])
        defer { s.stop() }
        try s.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", Self.gadgetCRD)
        let gadgets = "/apis/test.dev/v1/namespaces/default/gadgets"
        #expect(Wait.until(timeout: .seconds(10)) { (try? s.curl("GET", gadgets).status) == 200 })
        func gadget(_ name: String, _ spec: String) -> String { #"{"apiVersion":"test.dev/v1","kind":"Gadget","metadata":{"name":"\#(name)"},"spec":\#(spec)}"# }

        let refused = try s.curl("POST", gadgets, body: gadget("g", #"{"min":5,"max":200}"#))
        #expect(refused.status == 422, "\(refused.body)")
        #expect(Fixture.parse(refused.body)["message"] as? String
                == #"Gadget.test.dev "g" is invalid: spec: Invalid value: "object": failed rule: self.max <= 100"#, "\(refused.body)")
        let both = try s.curl("POST", gadgets, body: gadget("g", #"{"min":150,"max":120}"#))
        #expect(Fixture.parse(both.body)["message"] as? String
                == #"Gadget.test.dev "g" is invalid: [spec: Invalid value: "object": min must not exceed max, spec: Invalid value: "object": failed rule: self.max <= 100]"#,
                "\(both.body)")
        let causes = dig(Fixture.parse(both.body), "details", "causes") as? [[String: Any]] ?? []
        #expect(causes.map { $0["field"] as? String } == ["spec", "spec"] && causes.allSatisfy { $0["reason"] as? String == "FieldValueInvalid" })
        // A blocking schema error (Required): no rule is evaluated, and the API server says so.
        let blocked = try s.curl("POST", gadgets, body: gadget("g", #"{"min":500}"#))
        #expect(Fixture.parse(blocked.body)["message"] as? String
                == #"Gadget.test.dev "g" is invalid: [spec.max: Required value, <nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation]"#,
                "\(blocked.body)")

        // Create: the transition rule (oldSelf) is skipped. Update: it applies.
        #expect(try s.curl("POST", gadgets, body: gadget("g", #"{"min":1,"max":50}"#)).status == 201)
        let shrink = try s.curl("PATCH", gadgets + "/g", body: #"{"spec":{"max":40}}"#, contentType: "application/merge-patch+json")
        #expect(shrink.status == 422 && Fixture.parse(shrink.body)["message"] as? String
                == #"Gadget.test.dev "g" is invalid: spec: Invalid value: "object": max may only grow"#, "\(shrink.body)")
        #expect(try s.curl("PATCH", gadgets + "/g", body: #"{"spec":{"max":60}}"#, contentType: "application/merge-patch+json").status == 200)
    }
}
