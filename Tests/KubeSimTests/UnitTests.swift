import BatchCore
import Foundation
@testable import KubeSim
import Testing

@Suite struct PatchTests {
    @Test func mergePatchMergesObjectsDeletesNullsAndReplacesLists() throws {
        let target = try JSONValue.parse(#"{"a":{"b":1,"c":2},"list":[1,2,3],"gone":true}"#)
        let patch = try JSONValue.parse(#"{"a":{"b":5},"list":[9],"gone":null,"new":"x"}"#)
        #expect(Patches.mergePatch(target, patch) == (try JSONValue.parse(#"{"a":{"b":5,"c":2},"list":[9],"new":"x"}"#)))
    }

    @Test func jsonPatchOperationsAndFailingTest() throws {
        let target = try JSONValue.parse(#"{"spec":{"replicas":1,"items":["a"]}}"#)
        let patch = try JSONValue.parse(#"[{"op":"test","path":"/spec/replicas","value":1},{"op":"replace","path":"/spec/replicas","value":3},{"op":"add","path":"/spec/items/-","value":"b"},{"op":"remove","path":"/spec/items/0"},{"op":"copy","from":"/spec/replicas","path":"/spec/copy"}]"#)
        #expect(try Patches.jsonPatch(target, patch) == (try JSONValue.parse(#"{"spec":{"replicas":3,"items":["b"],"copy":3}}"#)))
        #expect(throws: Patches.Failure.self) {
            try Patches.jsonPatch(target, try JSONValue.parse(#"[{"op":"test","path":"/spec/replicas","value":2}]"#))
        }
        #expect(throws: Patches.Failure.self) {
            try Patches.jsonPatch(target, try JSONValue.parse(#"[{"op":"replace","path":"/nope","value":2}]"#))
        }
    }

    @Test func strategicMergeMergesContainersByName() throws {
        let target = try JSONValue.parse(#"{"containers":[{"name":"a","image":"1"},{"name":"b","image":"2"}]}"#)
        let patch = try JSONValue.parse(#"{"containers":[{"name":"b","image":"3"},{"name":"c","image":"4"},{"name":"a","$patch":"delete"}]}"#)
        #expect(Patches.strategicMergePatch(target, patch) == (try JSONValue.parse(#"{"containers":[{"name":"b","image":"3"},{"name":"c","image":"4"}]}"#)))
    }

    @Test func compactJSONIsSortedAndEscapedLikeGo() throws {
        let v: JSONValue = ["b": 1, "a": ["x": "<&>", "y": .double(2.5)], "n": nil]
        #expect(v.compactString == #"{"a":{"x":"\u003c\u0026\u003e","y":2.5},"b":1,"n":null}"#)
        #expect(try JSONValue.parse(v.compactString) == v)
    }
}

@Suite struct SelectorTests {
    @Test(arguments: [
        ("app=web", ["app": "web"], true),
        ("app==web,tier!=db", ["app": "web", "tier": "front"], true),
        ("app=web,tier!=db", ["app": "web", "tier": "db"], false),
        ("env in (a,b)", ["env": "b"], true),
        ("env notin (a,b)", ["env": "b"], false),
        ("!legacy", ["legacy": "x"], false),
        ("owner", ["owner": ""], true),
        ("", [:], true),
    ])
    func labelSelectors(selector: String, labels: [String: String], expected: Bool) throws {
        #expect(try LabelSelector(parsing: selector).matches(labels) == expected)
    }

    @Test func fieldSelectors() throws {
        let s = try FieldSelector(parsing: "involvedObject.kind=Deployment,metadata.name!=x")
        #expect(s.matches(["involvedObject.kind": "Deployment", "metadata.name": "web"]))
        #expect(!s.matches(["involvedObject.kind": "Deployment", "metadata.name": "x"]))
        #expect(throws: SelectorError.self) { try FieldSelector(parsing: "nonsense") }
    }

    @Test func rendersMatchLabelsAndExpressions() throws {
        let sel = try JSONValue.parse(#"{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"In","values":["b","a"]}]}"#)
        #expect(LabelSelector.render(sel) == "app=web,tier in (a,b)")
    }
}

@Suite struct StoreTests {
    @Test func everyWriteGetsANewGlobalVersionAndHistoryIsBounded() throws {
        let store = ObjectStore(historyLimit: 2)
        var versions: [Int64] = []
        for i in 0..<4 {
            let o = try store.transact("things", namespace: "ns", name: "a") { _ in .put(["metadata": ["name": "a"], "n": .int(Int64(i))]) }
            versions.append(Int64(o?["metadata"]?["resourceVersion"]?.stringValue ?? "") ?? 0)
        }
        #expect(versions == versions.sorted())
        #expect(Set(versions).count == 4)
        #expect(throws: ObjectStore.WatchFailure.self) { try store.watch("things", fromVersion: versions[0]) }
        let sub = try store.watch("things", fromVersion: versions[2])
        #expect(sub.backlog.map(\.resourceVersion) == [versions[3]])
        store.unwatch(sub.id)
        let unchanged = try store.transact("things", namespace: "ns", name: "a") { _ in .none }
        #expect(unchanged?["n"] == 3)
        #expect(store.currentResourceVersion == versions[3])
    }

    @Test func simulatorHandlesRequestsInProcess() async throws {
        let admin = UserAccount(name: "admin", groups: ["system:masters"], token: "t")
        let sim = Simulator(users: [admin])
        let headers = ["Authorization": "Bearer t", "Content-Type": "application/json"]
        let body = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"k":"v"}}"#
        let created = await sim.handle(APIRequest(method: "POST", target: "/api/v1/namespaces/default/configmaps", headers: headers, body: Array(body.utf8)))
        #expect(created.status == 201)
        #expect(created.jsonBody?["metadata"]?["uid"] != nil)
        let got = await sim.handle(APIRequest(method: "GET", target: "/api/v1/namespaces/default/configmaps/c", headers: headers))
        #expect(got.jsonBody?["data"]?["k"] == "v")
        let missingNamespace = await sim.handle(APIRequest(method: "POST", target: "/api/v1/namespaces/nope/configmaps", headers: headers, body: Array(body.utf8)))
        #expect(missingNamespace.status == 404)
        #expect(missingNamespace.jsonBody?["message"] == "namespaces \"nope\" not found")
        let protobuf = await sim.handle(APIRequest(method: "POST", target: "/api/v1/namespaces/default/configmaps",
                                                   headers: ["Authorization": "Bearer t", "Content-Type": "application/vnd.kubernetes.protobuf"], body: [0x6b]))
        #expect(protobuf.status == 415)
    }

    @Test func faultSpecParsing() throws {
        let rules = try FaultRule.parse(spec: "patch /apis/** status=429,retryAfter=2,count=1;* /api/v1/pods latencyMs=10")
        #expect(rules.count == 2)
        #expect(rules[0].verb == "patch")
        #expect(rules[0].status == 429)
        #expect(rules[0].retryAfter == 2)
        #expect(rules[1].latencyMs == 10)
        #expect(rules[0].matches(method: "PATCH", verb: "patch", path: "/apis/apps/v1/namespaces/x/deployments/y/scale"))
        #expect(!rules[1].matches(method: "GET", verb: "get", path: "/api/v1/pods/x"))
        #expect(throws: ConfigurationError.self) { try FaultRule.parse(spec: "patch") }
    }

    @Test func watchDropsFollowTheirProbability() throws {
        let path = "/apis/apps/v1/namespaces/x/deployments"
        let never = FaultInjector(rules: try FaultRule.parse(spec: "watch /apis/** dropWatchAfterMs=10,probability=0"))
        #expect((0..<200).allSatisfy { _ in never.watchDrop(path: path) == nil })
        let always = FaultInjector(rules: try FaultRule.parse(spec: "watch /apis/** dropWatchAfterMs=10,probability=1"))
        #expect((0..<200).allSatisfy { _ in always.watchDrop(path: path)?.dropWatchAfterMs == 10 })
        // One in five: of 2,000 watches between 250 and 550 are dropped (the bounds are 7 standard deviations out).
        let fifth = FaultInjector(rules: try FaultRule.parse(spec: "watch /apis/** dropWatchAfterEvents=1,probability=0.2"))
        let dropped = (0..<2_000).filter { _ in fifth.watchDrop(path: path) != nil }.count
        #expect((250...550).contains(dropped), "\(dropped) of 2000 dropped")
    }

    @Test func rbacDocumentsGrantByUserGroupAndResourceName() throws {
        let docs = try [
            JSONValue.parse(#"{"kind":"Role","metadata":{"name":"r","namespace":"shop"},"rules":[{"apiGroups":["apps"],"resources":["deployments/scale"],"resourceNames":["web"],"verbs":["patch"]}]}"#),
            JSONValue.parse(#"{"kind":"RoleBinding","metadata":{"name":"b","namespace":"shop"},"subjects":[{"kind":"ServiceAccount","name":"op","namespace":"ops"}],"roleRef":{"kind":"Role","name":"r"}}"#),
        ]
        let authz = try Authorizer(documents: docs)
        let sa = UserInfo(name: "system:serviceaccount:ops:op", groups: [])
        #expect(authz.allows(sa, RequestInfo(method: "PATCH", path: "/apis/apps/v1/namespaces/shop/deployments/web/scale", watch: false)))
        #expect(!authz.allows(sa, RequestInfo(method: "PATCH", path: "/apis/apps/v1/namespaces/shop/deployments/api/scale", watch: false)))
        #expect(!authz.allows(sa, RequestInfo(method: "PATCH", path: "/apis/apps/v1/namespaces/other/deployments/web/scale", watch: false)))
        #expect(!authz.allows(sa, RequestInfo(method: "PATCH", path: "/apis/apps/v1/namespaces/shop/deployments/web", watch: false)))
    }

    @Test func requestInfoParsesPaths() {
        let a = RequestInfo(method: "GET", path: "/api/v1/namespaces/shop/pods/p1/status", watch: false)
        #expect(a.resource == "pods" && a.namespace == "shop" && a.name == "p1" && a.subresource == "status" && a.verb == "get")
        let b = RequestInfo(method: "GET", path: "/api/v1/namespaces/shop", watch: false)
        #expect(b.resource == "namespaces" && b.name == "shop" && b.namespace == "")
        let c = RequestInfo(method: "GET", path: "/apis/apps/v1/deployments", watch: true)
        #expect(c.verb == "watch" && c.group == "apps")
        let d = RequestInfo(method: "DELETE", path: "/apis/apps/v1/namespaces/x/deployments", watch: false)
        #expect(d.verb == "deletecollection")
    }
}

@Suite struct EmbeddedTests {
    @Test func runsInProcessOverHTTPSAndStops() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kubesim-embedded-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try await EmbeddedKubeSim.start(options: APIServer.Options(directory: dir))
        #expect(server.url.hasPrefix("https://127.0.0.1:"))
        #expect(FileManager.default.fileExists(atPath: dir + "/kubeconfig"))
        #expect(FileManager.default.fileExists(atPath: dir + "/ca.crt"))
        let users = try JSONValue.parse(Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/users.json"))))
        #expect(users["users"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["admin", "alice", "bob"])
        let ns = server.simulator.store.get("namespaces", namespace: "", name: "court-listener")
        #expect(ns?["status"]?["phase"] == "Active")
        await server.stop()
    }
}

/// KubeSim's scale-down order follows kube-controller-manager's `ActivePodsWithRanks.Less`
/// (pkg/controller/controller_utils.go): the first pod is deleted first.
@Suite struct ReplicaSetRankingTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func order(_ pods: [ReplicaSetRanking.Pod]) -> [String] { ReplicaSetRanking.deletionOrder(pods, now: now).map(\.name) }

    @Test(arguments: [
        // (first, second): the first is deleted before the second, whatever their input order.
        ("unassigned", "assigned"), ("pending", "running"), ("unknown", "running"), ("pending", "unknown"),
        ("notReadyBusy", "readyIdle"), ("cheap", "expensive"), ("readyRecently", "readyLongAgo"),
        ("restarted", "neverRestarted"), ("createdRecently", "createdLongAgo"),
    ])
    func orderedAsTheReplicaSetController(first: String, second: String) {
        let ready = now - 3600
        let pods: [String: ReplicaSetRanking.Pod] = [
            "unassigned": .init(name: "unassigned", nodeName: "", readySince: ready, deletionCost: 100),
            "assigned": .init(name: "assigned", readySince: ready),
            "pending": .init(name: "pending", phase: "Pending", deletionCost: 100),
            "unknown": .init(name: "unknown", phase: "Unknown", deletionCost: 100),
            "running": .init(name: "running", readySince: ready),
            // Busy-worker protection (a high deletion cost) does not save a pod that is not ready: rule 3 comes first.
            "notReadyBusy": .init(name: "notReadyBusy", readySince: nil, deletionCost: 1000),
            "readyIdle": .init(name: "readyIdle", readySince: ready, deletionCost: 0),
            "cheap": .init(name: "cheap", readySince: now - 10, deletionCost: 0, created: now - 10),
            "expensive": .init(name: "expensive", readySince: now - 100_000, deletionCost: 1000, created: now - 100_000),
            "readyRecently": .init(name: "readyRecently", readySince: now - 60),
            "readyLongAgo": .init(name: "readyLongAgo", readySince: now - 86_400),
            "restarted": .init(name: "restarted", readySince: ready, restarts: 3, created: now - 7200),
            "neverRestarted": .init(name: "neverRestarted", readySince: ready, restarts: 0, created: now - 60),
            "createdRecently": .init(name: "createdRecently", readySince: ready, created: now - 60),
            "createdLongAgo": .init(name: "createdLongAgo", readySince: ready, created: now - 86_400),
        ]
        let a = pods[first]!, b = pods[second]!
        #expect(order([a, b]) == [first, second])
        #expect(order([b, a]) == [first, second])
    }

    @Test func readsThePodObject() throws {
        let pod = try JSONValue.parse(Array(#"""
            {"metadata": {"name": "p", "uid": "u", "creationTimestamp": "2027-01-15T08:00:00Z",
                          "annotations": {"controller.kubernetes.io/pod-deletion-cost": "99999999999"}},
             "spec": {"nodeName": "kubesim"},
             "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
                        "containerStatuses": [{"restartCount": 2}, {"restartCount": 5}]}}
            """#.utf8))
        let p = ReplicaSetRanking.Pod(pod)
        #expect(p.deletionCost == 0)           // outside int32: the API server would refuse it; treated as 0
        #expect(!p.isReady && p.restarts == 5 && p.nodeName == "kubesim" && p.uid == "u")
    }
}
