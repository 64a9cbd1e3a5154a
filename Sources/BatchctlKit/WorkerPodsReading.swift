import BatchCore
import KubeClient

extension WorkerPods {
    /// Reads the worker Deployments named `deployments` and the namespace's pods (two LISTs), for the rule
    /// the controller applies to its watch caches: `spec.selector.matchLabels` selects a Deployment's pods, and
    /// pods being deleted are left out. A Deployment that does not exist has no pods.
    public static func read(client: KubeClient, namespace: String, deployments: [String]) async throws -> WorkerPods {
        let wanted = Set(deployments)
        var selectors: [String: [String: String]] = [:]
        for d in try await client.deployments(namespace: namespace).items {
            guard let name = d.metadata.name, wanted.contains(name) else { continue }
            selectors[name] = d.spec.selector?.matchLabels ?? [:]
        }
        let pods = try await client.pods(namespace: namespace).items.compactMap { p -> Pod? in
            guard let name = p.metadata.name, p.metadata.deletionTimestamp == nil else { return nil }
            return Pod(name: name, labels: p.metadata.labels ?? [:])
        }
        return WorkerPods(selectors: selectors, pods: pods)
    }
}
