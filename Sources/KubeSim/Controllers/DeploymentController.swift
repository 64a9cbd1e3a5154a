import BatchCore
/// The built-in "deployment controller": after a Deployment changes it publishes status (observedGeneration,
/// replicas, ready/available/updated replicas, conditions) following a short delay, so clients have to wait as
/// they would on a real cluster. Deployments run by the kubelet get their status from live processes instead.
public final class DeploymentController: Sendable {
    let simulator: Simulator
    let kubelet: Kubelet?

    /// Creates the controller; with a kubelet, Deployments naming a command are handed to it.
    public init(simulator: Simulator, kubelet: Kubelet?) {
        self.simulator = simulator
        self.kubelet = kubelet
    }

    /// Processes Deployment changes until the simulator shuts down.
    public func run() async {
        let delay = simulator.configuration.controllerDelay
        await withTaskGroup(of: Void.self) { group in
            for await ref in simulator.deploymentChanges {
                group.addTask {
                    try? await Task.sleep(for: delay)
                    await self.reconcile(ref)
                }
            }
        }
    }

    /// Brings one Deployment's status (and, with a kubelet, its pods) up to date.
    public func reconcile(_ ref: ObjectRef) async {
        let key = ResourceType.deployments.storageKey
        let deployment = simulator.store.get(key, namespace: ref.namespace, name: ref.name)
        if let kubelet {
            let hasPods = !kubelet.runningPods(namespace: ref.namespace, deployment: ref.name).isEmpty
            if deployment.map({ Deployments.command(of: $0) != nil }) ?? true {
                await kubelet.reconcile(ref)
                return
            }
            if hasPods { await kubelet.reconcile(ref) }   // the command was removed: its pods stop
        }
        guard deployment != nil else { return }
        Self.publishStatus(simulator.store, ref) { d in
            let want = d["spec"]?["replicas"]?.intValue ?? 1
            return (want, want)
        }
    }

    /// Writes the status computed from `(total, ready)` if it changed.
    static func publishStatus(_ store: ObjectStore, _ ref: ObjectRef, counts: (JSONValue) -> (Int64, Int64)) {
        _ = try? store.transact(ResourceType.deployments.storageKey, namespace: ref.namespace, name: ref.name) { current in
            guard var d = current else { return .none }
            let (total, ready) = counts(d)
            let status = Deployments.status(for: d, total: total, ready: ready)
            if d["status"] == status { return .none }
            d["status"] = status
            return .put(d)
        }
    }
}
