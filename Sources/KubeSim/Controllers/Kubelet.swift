import BatchCore
import Foundation
import Synchronization

/// The "kubelet": for each Deployment whose pod template names a command
/// (annotation `kubesim.batchctl.dev/command`), keeps `spec.replicas` local processes running, with Pod
/// objects, and keeps the Deployment's status true. Scale-down removes pods in the ReplicaSet controller's
/// order (`ReplicaSetRanking`: not ready before ready, then lower `controller.kubernetes.io/pod-deletion-cost`,
/// ...), sending SIGTERM to the pod's process group and SIGKILL after `terminationGracePeriodSeconds`.
public final class Kubelet: Sendable {
    /// A running pod process.
    struct PodProcess: Sendable {
        var name: String
        var namespace: String
        var deployment: String
        var pid: pid_t
        var started: ContinuousClock.Instant
        var terminating = false
        var grace: Int64
        var templateHash: String
    }

    struct State {
        var pods: [String: PodProcess] = [:]          // "ns/name"
        var busy: [ObjectRef: Bool] = [:]             // reconcile running → dirty flag
        /// Crash-loop back-off: no new pods for a deployment before this instant.
        var backoff: [ObjectRef: (until: ContinuousClock.Instant, delay: Duration, fired: Bool)] = [:]
    }

    let simulator: Simulator
    let directory: String
    let shutdownGrace: Duration
    private let state = Mutex(State())

    /// Creates a kubelet writing pod logs to `directory/pods/<pod>.log`.
    public init(simulator: Simulator, directory: String, shutdownGrace: Duration) {
        self.simulator = simulator
        self.directory = directory
        self.shutdownGrace = shutdownGrace
    }

    static let podsKey = ResourceType.pods.storageKey

    /// Names of the live (non-terminating) pods of a deployment.
    public func runningPods(namespace: String, deployment: String) -> [String] {
        state.withLock { s in s.pods.values.filter { $0.namespace == namespace && $0.deployment == deployment && !$0.terminating }.map(\.name).sorted() }
    }

    /// Reconciles one deployment; concurrent calls for the same deployment coalesce.
    public func reconcile(_ ref: ObjectRef) async {
        let first = state.withLock { s -> Bool in
            if s.busy[ref] != nil {
                s.busy[ref] = true
                return false
            }
            s.busy[ref] = false
            return true
        }
        guard first else { return }
        while true {
            await reconcileOnce(ref)
            let again = state.withLock { s -> Bool in
                if s.busy[ref] == true {
                    s.busy[ref] = false
                    return true
                }
                s.busy[ref] = nil
                return false
            }
            if !again { return }
        }
    }

    private func reconcileOnce(_ ref: ObjectRef) async {
        reapExited()
        let deployment = simulator.store.get(ResourceType.deployments.storageKey, namespace: ref.namespace, name: ref.name)
        let command = deployment.flatMap { Deployments.command(of: $0) }
        let want = (command == nil) ? 0 : Int(deployment?["spec"]?["replicas"]?.intValue ?? 1)
        let all = state.withLock { s in
            s.pods.values.filter { $0.namespace == ref.namespace && $0.deployment == ref.name && !$0.terminating }
        }
        // A changed pod template replaces every old pod (new pods first, then the old ones stop).
        let hash = deployment.map(PodNames.templateHash) ?? ""
        let live = all.filter { $0.templateHash == hash }
        var victims = all.filter { $0.templateHash != hash }
        let backingOff = state.withLock { s in s.backoff[ref].map { ContinuousClock.now < $0.until } ?? false }
        if live.count < want, let deployment, let command, !backingOff {
            for _ in 0..<(want - live.count) { startPod(deployment, command: command) }
        }
        if live.count > want {
            // As the ReplicaSet controller: unassigned, pending, not ready, lower deletion cost... first.
            let objects = Dictionary(live.map { p in (p.name, simulator.store.get(Self.podsKey, namespace: p.namespace, name: p.name)) },
                                     uniquingKeysWith: { a, _ in a })
            let ranked = ReplicaSetRanking.deletionOrder(live.map { p in
                objects[p.name].flatMap { $0 }.map(ReplicaSetRanking.Pod.init) ?? ReplicaSetRanking.Pod(name: p.name, phase: "Unknown")
            }, now: Date())
            let byName = Dictionary(live.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            victims += ranked.prefix(live.count - want).compactMap { byName[$0.name] }
        }
        if !victims.isEmpty {
            let chosen = victims
            state.withLock { s in for v in chosen { s.pods["\(v.namespace)/\(v.name)"]?.terminating = true } }
            for v in victims { markTerminating(v) }
        }
        if deployment != nil { publishStatus(ref) }
        await withTaskGroup(of: Void.self) { group in
            for v in victims { group.addTask { await self.terminate(v, grace: .seconds(v.grace)) } }
        }
        if deployment != nil, !victims.isEmpty { publishStatus(ref) }
    }

    private func publishStatus(_ ref: ObjectRef) {
        let count = Int64(runningPods(namespace: ref.namespace, deployment: ref.name).count)
        DeploymentController.publishStatus(simulator.store, ref) { _ in (count, count) }
    }

    // MARK: processes

    private func startPod(_ deployment: JSONValue, command: String) {
        let namespace = deployment["metadata"]?["namespace"]?.stringValue ?? "default"
        let deploymentName = deployment["metadata"]?["name"]?.stringValue ?? ""
        let hash = PodNames.templateHash(deployment)
        var name = ""
        repeat {
            name = "\(deploymentName)-\(hash)-\(Names.randomSuffix(5))"
        } while simulator.store.get(Self.podsKey, namespace: namespace, name: name) != nil
        let template = deployment["spec"]?["template"] ?? .emptyObject
        let grace = template["spec"]?["terminationGracePeriodSeconds"]?.intValue ?? 30
        var env = ProcessInfo.processInfo.environment
        for container in template["spec"]?["containers"]?.arrayValue ?? [] {
            for e in container["env"]?.arrayValue ?? [] {
                if let k = e["name"]?.stringValue, let v = e["value"]?.stringValue { env[k] = v }
            }
        }
        env["POD_NAME"] = name
        env["POD_NAMESPACE"] = namespace
        env["HOSTNAME"] = name
        let logDirectory = "\(directory)/pods"
        let pid: pid_t
        do {
            try FileManager.default.createDirectory(atPath: logDirectory, withIntermediateDirectories: true)
            pid = try ProcessSpawner.spawn(["/bin/sh", "-c", command], environment: env, logPath: "\(logDirectory)/\(name).log")
        } catch {
            Console.say("kubesim kubelet: cannot start pod \(namespace)/\(name): \(error)")
            return
        }
        state.withLock { s in
            s.pods["\(namespace)/\(name)"] = PodProcess(name: name, namespace: namespace, deployment: deploymentName, pid: pid,
                                                        started: .now, grace: grace, templateHash: hash)
        }
        let now = Timestamps.rfc3339()
        var labels = template["metadata"]?["labels"] ?? .emptyObject
        labels["pod-template-hash"] = .string(hash)
        var spec = template["spec"] ?? .emptyObject
        spec["nodeName"] = "kubesim"
        let containers = spec["containers"]?.arrayValue ?? []
        var pod: JSONValue = [
            "apiVersion": "v1", "kind": "Pod",
            "metadata": ["name": .string(name), "namespace": .string(namespace), "labels": labels,
                         "annotations": template["metadata"]?["annotations"] ?? .emptyObject,
                         "ownerReferences": [["apiVersion": "apps/v1", "kind": "ReplicaSet", "name": .string("\(deploymentName)-\(hash)"),
                                              "uid": deployment["metadata"]?["uid"] ?? "", "controller": true, "blockOwnerDeletion": true]]],
            "spec": spec,
            "status": ["phase": "Running", "hostIP": "127.0.0.1", "podIP": "127.0.0.1", "startTime": .string(now),
                       "conditions": .array(["Initialized", "Ready", "ContainersReady", "PodScheduled"].map {
                           ["type": .string($0), "status": "True", "lastTransitionTime": .string(now)]
                       }),
                       "containerStatuses": .array(containers.map { c in
                           ["name": c["name"] ?? "main", "image": c["image"] ?? "", "imageID": "", "ready": true, "started": true,
                            "restartCount": 0, "state": ["running": ["startedAt": .string(now)]],
                            "containerID": .string("kubesim://\(pid)")]
                       })],
        ]
        pod = Simulator.newMetadata(pod, generation: false)
        _ = try? simulator.store.transact(Self.podsKey, namespace: namespace, name: name) { _ in .put(pod) }
    }

    private func markTerminating(_ pod: PodProcess) {
        _ = try? simulator.store.transact(Self.podsKey, namespace: pod.namespace, name: pod.name) { current in
            guard var p = current else { return .none }
            p[path: ["metadata", "deletionTimestamp"]] = .string(Timestamps.rfc3339())
            p[path: ["metadata", "deletionGracePeriodSeconds"]] = .int(pod.grace)
            return .put(p)
        }
    }

    /// SIGTERM to the process group, wait up to `grace`, SIGKILL; then the Pod object goes.
    private func terminate(_ pod: PodProcess, grace: Duration) async {
        kill(-pod.pid, SIGTERM)
        kill(pod.pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline {
            if ProcessSpawner.reap(pod.pid) { break }
            try? await Task.sleep(for: .milliseconds(50))
        }
        kill(-pod.pid, SIGKILL)
        if !ProcessSpawner.reap(pod.pid) {
            kill(pod.pid, SIGKILL)
            let killDeadline = ContinuousClock.now + .seconds(5)
            while ContinuousClock.now < killDeadline, !ProcessSpawner.reap(pod.pid) {
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        state.withLock { s in _ = s.pods.removeValue(forKey: "\(pod.namespace)/\(pod.name)") }
        _ = try? simulator.store.transact(Self.podsKey, namespace: pod.namespace, name: pod.name) { $0 == nil ? .none : .delete }
    }

    /// Drops pods whose process exited (they are replaced on the next reconcile); returns their deployments.
    @discardableResult
    func reapExited() -> Set<ObjectRef> {
        let candidates = state.withLock { s in s.pods.values.filter { !$0.terminating } }
        var affected = Set<ObjectRef>()
        for pod in candidates where ProcessSpawner.reap(pod.pid) {
            kill(-pod.pid, SIGKILL)
            let ref = ObjectRef(namespace: pod.namespace, name: pod.deployment)
            let quick = ContinuousClock.now - pod.started < .seconds(10)
            state.withLock { s in
                if quick {
                    let delay = min((s.backoff[ref]?.delay ?? .milliseconds(500)) * 2, .seconds(30))
                    s.backoff[ref] = (ContinuousClock.now + delay, delay, false)
                } else {
                    s.backoff[ref] = nil
                }
            }
            state.withLock { s in _ = s.pods.removeValue(forKey: "\(pod.namespace)/\(pod.name)") }
            _ = try? simulator.store.transact(Self.podsKey, namespace: pod.namespace, name: pod.name) { $0 == nil ? .none : .delete }
            affected.insert(ObjectRef(namespace: pod.namespace, name: pod.deployment))
        }
        return affected
    }

    /// Watches for exited processes and deleted Pod objects until `stop` says so.
    public func monitor(until stop: @Sendable () -> Bool) async {
        while !stop() {
            try? await Task.sleep(for: .milliseconds(300))
            if stop() { return }
            var affected = reapExited()
            let tracked = state.withLock { s in s.pods.values.filter { !$0.terminating } }
            for pod in tracked where simulator.store.get(Self.podsKey, namespace: pod.namespace, name: pod.name) == nil {
                state.withLock { s in s.pods["\(pod.namespace)/\(pod.name)"]?.terminating = true }
                await terminate(pod, grace: .seconds(min(pod.grace, 30)))
                affected.insert(ObjectRef(namespace: pod.namespace, name: pod.deployment))
            }
            let expired = state.withLock { s in
                let refs = s.backoff.filter { ContinuousClock.now >= $0.value.until && !$0.value.fired }.map(\.key)
                for r in refs { s.backoff[r]?.fired = true }
                return refs
            }
            affected.formUnion(expired)
            for ref in affected { await reconcile(ref) }
        }
    }

    /// Stops every pod (bounded by `shutdownGrace` each, in parallel).
    public func stopAll() async {
        let all = state.withLock { s in Array(s.pods.values) }
        let cap = shutdownGrace
        await withTaskGroup(of: Void.self) { group in
            for pod in all {
                group.addTask { await self.terminate(pod, grace: min(.seconds(pod.grace), cap)) }
            }
        }
    }
}
