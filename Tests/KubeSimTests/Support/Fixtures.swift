import BatchTesting
import Foundation
import Testing

/// JSON helpers and object fixtures for tests against a `kubesim` child process.
enum Fixture {
    static func deployment(_ name: String, replicas: Int? = 1, labels: [String: String] = [:], command: String? = nil,
                           grace: Int? = nil) -> String {
        var template: [String: Any] = ["metadata": ["labels": ["app": name]],
                                       "spec": ["containers": [["name": "main", "image": "busybox"]]]]
        if let command { template["metadata"] = ["labels": ["app": name], "annotations": ["kubesim.batchctl.dev/command": command]] }
        if let grace {
            var spec = template["spec"] as! [String: Any]
            spec["terminationGracePeriodSeconds"] = grace
            template["spec"] = spec
        }
        var spec: [String: Any] = ["selector": ["matchLabels": ["app": name]], "template": template]
        if let replicas { spec["replicas"] = replicas }
        return json(["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": name, "labels": labels.isEmpty ? ["app": name] : labels], "spec": spec])
    }

    static let crd = """
    {"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"batchqueues.batchctl.dev"},
     "spec":{"group":"batchctl.dev","scope":"Namespaced",
      "names":{"plural":"batchqueues","singular":"batchqueue","kind":"BatchQueue","listKind":"BatchQueueList","shortNames":["bq"]},
      "versions":[{"name":"v1alpha1","served":true,"storage":true,
        "subresources":{"status":{},"scale":{"specReplicasPath":".spec.maxReplicas","statusReplicasPath":".status.replicas"}},
        "additionalPrinterColumns":[{"name":"Queue","type":"string","jsonPath":".spec.queue"},
          {"name":"Holder","type":"string","jsonPath":".spec.reservation.holder"},
          {"name":"Max","type":"integer","jsonPath":".spec.maxReplicas"},
          {"name":"Phase","type":"string","jsonPath":".status.phase"},
          {"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}],
        "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}}
    """

    static func batchQueue(_ name: String, holder: String = "alice@example.org", status: [String: Any]? = nil) -> String {
        var o: [String: Any] = ["apiVersion": "batchctl.dev/v1alpha1", "kind": "BatchQueue", "metadata": ["name": name],
                                "spec": ["queue": name, "deployment": "celery-\(name)", "maxReplicas": 20, "reservation": ["holder": holder]]]
        if let status { o["status"] = status }
        return json(o)
    }

    static func json(_ object: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    static func parse(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    /// Splits a watch stream into events.
    static func events(_ stream: String) -> [[String: Any]] {
        stream.split(separator: "\n").map { parse(String($0)) }
    }
}

extension KubeSimServer {
    static let deployments = "/apis/apps/v1/namespaces/default/deployments"
    static let bqs = "/apis/batchctl.dev/v1alpha1/namespaces/default/batchqueues"

    /// POSTs and expects 201; returns the created object.
    @discardableResult
    func create(_ path: String, _ body: String, user: String = "admin") throws -> [String: Any] {
        let r = try curl("POST", path, body: body, user: user)
        try #require(r.status == 201, "POST \(path): \(r.status) \(r.body)")
        return Fixture.parse(r.body)
    }

    /// GETs and expects 200.
    func get(_ path: String, user: String = "admin") throws -> [String: Any] {
        let r = try curl("GET", path, user: user)
        try #require(r.status == 200, "GET \(path): \(r.status) \(r.body)")
        return Fixture.parse(r.body)
    }

    /// Creates a Deployment and waits (bounded) until the deployment controller has published its status,
    /// so later watches see no controller writes.
    @discardableResult
    func createSettledDeployment(_ name: String, namespace: String = "default") throws -> [String: Any] {
        let path = "/apis/apps/v1/namespaces/\(namespace)/deployments"
        let created = try create(path, Fixture.deployment(name))
        var settled = created
        let ok = Wait.until(timeout: .seconds(10)) {
            guard let d = try? get(path + "/" + name) else { return false }
            settled = d
            return dig(d, "status", "observedGeneration") as? Int == generation(d)
        }
        try #require(ok, "deployment \(name) never got status")
        return settled
    }

    /// Creates the BatchQueue CRD.
    func installCRD() throws {
        try create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", Fixture.crd)
    }

    /// Starts `curl -N` on a watch URL writing the stream to a file; returns the process and the file.
    func startWatch(_ pathAndQuery: String, user: String = "admin") throws -> (ChildProcess, String) {
        let out = "\(directory)/watch-\(UUID().uuidString).out"
        var args = ["-sS", "-N", "-o", out, "-H", "Authorization: Bearer \(token(for: user))"]
        if url.hasPrefix("https") { args += ["--cacert", caPath] }
        args.append(url + pathAndQuery)
        let child = try ChildProcess(name: "watch-\(UUID().uuidString.prefix(8))", executable: "/usr/bin/curl", arguments: args, logDirectory: directory)
        return (child, out)
    }
}

func resourceVersion(_ o: [String: Any]) -> String { (o["metadata"] as? [String: Any])?["resourceVersion"] as? String ?? "" }
func generation(_ o: [String: Any]) -> Int { (o["metadata"] as? [String: Any])?["generation"] as? Int ?? 0 }
func dig(_ o: Any?, _ path: String...) -> Any? {
    var current = o
    for key in path {
        if let i = Int(key), let a = current as? [Any] { current = i < a.count ? a[i] : nil } else { current = (current as? [String: Any])?[key] }
    }
    return current
}
