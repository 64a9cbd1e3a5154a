import BatchCore
import BatchTesting
import Foundation
@testable import KubeClient

/// Helpers for tests against KubeSim.
enum Sim {
    static let namespace = "court-listener"
    static let fast = RetryPolicy(maxRetries: 3, initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(100))

    /// A client from KubeSim's kubeconfig, as `context`.
    static func client(_ sim: KubeSimServer, context: String = "admin", retry: RetryPolicy = .standard) throws -> KubeClient {
        try KubeClient.load(KubeConfigOptions(kubeconfigPath: sim.kubeconfigPath, context: context, environment: ["HOME": sim.directory]),
                            retryPolicy: retry)
    }

    static let batchQueueCRD = """
        {"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"batchqueues.batchctl.dev"},
         "spec":{"group":"batchctl.dev","scope":"Namespaced",
          "names":{"plural":"batchqueues","singular":"batchqueue","kind":"BatchQueue","listKind":"BatchQueueList","shortNames":["bq"]},
          "versions":[{"name":"v1alpha1","served":true,"storage":true,"subresources":{"status":{}},
           "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}}
        """

    /// POSTs raw JSON as admin (for fixtures the typed API does not create).
    @discardableResult
    static func post(_ client: KubeClient, _ path: String, _ json: String) async throws -> KubeResponse {
        try await client.transport.send(KubeRequest(method: .post, path: path, body: Array(json.utf8), contentType: "application/json"))
    }

    static func installCRD(_ admin: KubeClient) async throws {
        try await post(admin, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", batchQueueCRD)
    }

    static func createDeployment(_ admin: KubeClient, _ name: String, replicas: Int = 0) async throws {
        try await post(admin, "/apis/apps/v1/namespaces/\(namespace)/deployments", """
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"\(name)","namespace":"\(namespace)"},
             "spec":{"replicas":\(replicas),"selector":{"matchLabels":{"app":"\(name)"}},
              "template":{"metadata":{"labels":{"app":"\(name)"}},"spec":{"containers":[{"name":"worker","image":"celery"}]}}}}
            """)
    }

    static func batchQueue(_ name: String) -> BatchQueue {
        BatchQueue(metadata: ObjectMeta(name: name, namespace: namespace), spec: BatchQueueSpec(deployment: "celery-\(name)", maxReplicas: 20))
    }

    /// What `/kubesim/stats` counts.
    struct Stats: Decodable {
        var connections: Int?
        var watches: Int?
    }

    /// KubeSim's `/kubesim/stats`.
    static func stats(_ sim: KubeSimServer) throws -> Stats {
        let r = try sim.curl("GET", "/kubesim/stats")
        guard r.status == 200, let stats = r.decoded(Stats.self) else { throw SupportError("GET /kubesim/stats: \(r.status) \(r.body)") }
        return stats
    }
}

/// Collects watch events for assertions.
actor EventLog<T: KubeResource> {
    private(set) var events: [ResourceEvent<T>] = []
    private(set) var finished: (any Error)??

    func append(_ e: ResourceEvent<T>) { events.append(e) }
    func finish(_ error: (any Error)?) { finished = .some(error) }

    /// (key, resourceVersion) of every added/modified/deleted event, in order.
    var changes: [(kind: String, key: String, rv: String)] {
        events.compactMap { e in
            switch e {
            case .added(let o): ("added", o.key, o.metadata.resourceVersion ?? "")
            case .modified(let o): ("modified", o.key, o.metadata.resourceVersion ?? "")
            case .deleted(let o): ("deleted", o.key, o.metadata.resourceVersion ?? "")
            case .synced, .undecodable: nil
            }
        }
    }

    var syncCount: Int { events.filter { if case .synced = $0 { true } else { false } }.count }

    /// The view a consumer builds by applying the events.
    var view: [String: String] {
        var v: [String: String] = [:]
        for e in events {
            switch e {
            case .added(let o), .modified(let o): v[o.key] = o.metadata.resourceVersion ?? ""
            case .deleted(let o): v[o.key] = nil
            case .undecodable(let u): v[u.key] = nil
            case .synced(let all):
                // After .synced the view must already equal the snapshot.
                v = Dictionary(uniqueKeysWithValues: all.map { ($0.key, $0.metadata.resourceVersion ?? "") })
            }
        }
        return v
    }

    func sawResourceVersion(_ rv: String) -> Bool { changes.contains { $0.rv == rv } }
}
