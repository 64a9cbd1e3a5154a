import BatchCore
import KubeClient
import Logging
import Synchronization

/// The cluster through the Kubernetes API: BatchQueues, the BatchQueuePolicy, Deployments and Pods of one
/// namespace in watch-fed caches (list, then watch, relist on 410), and the controller's writes. Each write's
/// answer goes into the cache at once, so the next pass does not act on a stale copy.
public final class KubeCluster: ClusterClient {
    let client: KubeClient
    let namespace: String
    let identity: String
    let now: @Sendable () -> KubeTime
    let logger: Logger

    struct Caches {
        var queues: [String: BatchQueue] = [:]
        var deployments: [String: Deployment] = [:]
        var pods: [String: Pod] = [:]
        var policies: [String: BatchQueuePolicy] = [:]
        var synced: Set<String> = []
        var lastError: String?
        /// Objects that do not decode, by kind and key.
        var invalid: [String: UndecodableObject] = [:]
    }
    private let caches = Mutex(Caches())
    private let nudge: AsyncStream<Void>.Continuation
    /// Yields when a BatchQueue's or Deployment's spec changed (its generation moved), so a pass can run
    /// at once instead of at the next tick. Status-only changes (the controller's own writes) do not yield.
    public let specChanges: AsyncStream<Void>

    /// - Parameter identity: this controller replica, for Events' `reportingInstance`.
    public init(client: KubeClient, namespace: String, identity: String, logger: Logger = Logger(label: "batchctl.cluster"),
                now: @escaping @Sendable () -> KubeTime) {
        self.client = client
        self.namespace = namespace
        self.identity = identity
        self.logger = logger
        self.now = now
        (specChanges, nudge) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Keeps the three caches fed until cancelled. Each watch reconnects and relists by itself; an error
    /// that ends one (such as a 403 from missing RBAC) is logged and retried after a pause.
    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.feed(BatchQueue.self, "batchqueues", \.queues) }
            group.addTask { await self.feed(Deployment.self, "deployments", \.deployments) }
            group.addTask { await self.feed(Pod.self, "pods", \.pods) }
            group.addTask { await self.feed(BatchQueuePolicy.self, "batchqueuepolicies", \.policies) }
        }
    }

    func feed<T: KubeResource>(_ type: T.Type, _ kind: String, _ path: WritableKeyPath<Caches, [String: T]>) async {
        while !Task.isCancelled {
            if T.self == BatchQueuePolicy.self, await !policiesInstalled() {
                try? await Task.sleep(for: .seconds(10))   // looked for again, in case the CRD is applied later
                continue
            }
            do {
                for try await event in client.watch(type, namespace: namespace) {
                    let changed = caches.withLock { c -> Bool in
                        switch event {
                        case let .added(o), let .modified(o):
                            c.invalid["\(T.resourceType.kind) \(o.key)"] = nil   // it decodes (again)
                            let before = c[keyPath: path][Self.name(o)]
                            c[keyPath: path][Self.name(o)] = o
                            return c.synced.contains(kind) && Self.generation(before) != Self.generation(o)
                        case let .deleted(o):
                            c.invalid["\(T.resourceType.kind) \(o.key)"] = nil
                            c[keyPath: path][Self.name(o)] = nil
                            return true
                        case let .synced(all):
                            c[keyPath: path] = Dictionary(all.map { (Self.name($0), $0) }, uniquingKeysWith: { $1 })
                            for o in all { c.invalid["\(T.resourceType.kind) \(o.key)"] = nil }
                            c.synced.insert(kind)
                            return false
                        case let .undecodable(u):
                            let key = "\(u.kind) \(u.key)"
                            if u.gone {
                                c.invalid[key] = nil
                            } else {
                                c[keyPath: path][u.name] = nil
                                c.invalid[key] = u
                            }
                            return c.synced.contains(kind)
                        }
                    }
                    if case let .undecodable(u) = event {
                        if u.gone {
                            logger.notice("An object that did not decode is gone or decodes again", metadata: ["kind": "\(u.kind)", "name": "\(u.name)"])
                        } else {
                            logger.error("Skipping an object that does not decode; the others are still reconciled",
                                         metadata: ["kind": "\(u.kind)", "name": "\(u.name)", "problem": "\(u.problem)"])
                        }
                    }
                    if changed && !(T.self == Pod.self) { nudge.yield() }
                }
            } catch is CancellationError {
                return
            } catch {
                caches.withLock { $0.lastError = "watching \(kind): \(error)" }
                logger.warning("Watch ended; retrying", metadata: ["resource": "\(kind)", "error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(2))   // only cancellation can interrupt this sleep
        }
    }

    /// Whether the BatchQueuePolicy resource is served. When it is not (a 404: its CRD is not applied), the policy
    /// cache counts as filled and empty, so the controller runs on the embedded defaults and says so.
    func policiesInstalled() async -> Bool {
        do {
            _ = try await client.list(BatchQueuePolicy.self, namespace: namespace, pageSize: 1)
            return true
        } catch let error as KubeError where error.isNotFound {
            let first = caches.withLock { c in
                defer { c.policies = [:]; c.synced.insert("batchqueuepolicies") }
                return !c.synced.contains("batchqueuepolicies")
            }
            if first { logger.warning("The BatchQueuePolicy resource is not installed; using the embedded defaults", metadata: ["error": "\(error)"]) }
            return false
        } catch {
            return true   // the watch reports (and retries) other failures
        }
    }

    static func generation<T: KubeResource>(_ object: T?) -> Int64? {
        (object as? BatchQueue)?.metadata.generation ?? (object as? Deployment)?.metadata.generation
            ?? (object as? BatchQueuePolicy)?.metadata.generation
    }

    static func name<T: KubeResource>(_ object: T) -> String {
        (object as? BatchQueue)?.metadata.name ?? (object as? Deployment)?.metadata.name ?? (object as? Pod)?.metadata.name
            ?? (object as? BatchQueuePolicy)?.metadata.name ?? ""
    }

    /// Whether all four caches have been filled once.
    public var isSynced: Bool { caches.withLock { $0.synced.count == 4 } }

    public func snapshot() async throws -> ClusterSnapshot {
        let c = caches.withLock { $0 }
        guard c.synced.count == 4 else {
            throw ClusterNotReady(detail: c.lastError ?? "the BatchQueue, BatchQueuePolicy, Deployment and Pod caches are still being filled")
        }
        let policy: PolicyState
        if let object = c.policies[BatchQueuePolicy.defaultName] {
            do {
                policy = .found(try object.policy())
            } catch {
                policy = .invalid(error.problems.map(\.description).joined(separator: "; "))
            }
        } else {
            policy = .missing
        }
        let queues = c.queues.values.sorted { ($0.metadata.name ?? "") < ($1.metadata.name ?? "") }
        var deployments: [String: DeploymentState] = [:]
        for d in c.deployments.values {
            guard let name = d.metadata.name else { continue }
            deployments[name] = DeploymentState(name: name, replicas: d.spec.replicas ?? 1, readyReplicas: d.status.readyReplicas,
                                                selector: d.spec.selector?.matchLabels ?? [:], workerArguments: d.workerArguments)
        }
        let states = c.pods.values.compactMap { p -> (PodState, Bool)? in
            guard let name = p.metadata.name else { return nil }
            let cost = p.metadata.annotations?[podDeletionCostAnnotation].flatMap { Int($0) }
            let ready = p.status?.phase == "Running" && p.status?.isReady == true
            let started = p.status?.phase == "Running" ? p.status?.processesStartedAt : nil
            return (PodState(name: name, labels: p.metadata.labels ?? [:], deletionCost: cost, ready: ready, workerStartedAt: started),
                    p.metadata.deletionTimestamp != nil)
        }
        let pods = states.filter { !$0.1 }.map(\.0)
        let terminating = states.filter(\.1).map(\.0)
        let skipped = c.invalid.values.map { SkippedObject(kind: $0.kind, name: $0.name, uid: $0.uid, problem: $0.problem) }
            .sorted { ($0.kind, $0.name) < ($1.kind, $1.name) }
        var snapshot = ClusterSnapshot(queues: queues, deployments: deployments, pods: pods.sorted { $0.name < $1.name }, policy: policy,
                                       skipped: skipped)
        snapshot.terminatingPods = terminating.sorted { $0.name < $1.name }
        return snapshot
    }

    public func scale(deployment: String, to replicas: Int) async throws {
        // Conditional on the cached resourceVersion: if someone changed the Deployment since, this is a
        // conflict and the next pass decides again from fresh data.
        let rv = caches.withLock { $0.deployments[deployment]?.metadata.resourceVersion }
        _ = try await client.setScale(ofDeployment: deployment, replicas: replicas, resourceVersion: rv, namespace: namespace)
        caches.withLock { c in
            c.deployments[deployment]?.spec.replicas = replicas
        }
    }

    public func updateStatus(of queue: BatchQueue, to status: BatchQueueStatus) async throws -> BatchQueue {
        var new = queue
        new.status = status
        let stored = try await client.updateBatchQueueStatus(new, from: queue)
        remember(stored)
        return stored
    }

    public func writeReservation(of queue: BatchQueue, to reservation: Reservation?) async throws -> BatchQueue {
        var new = queue
        new.spec.reservation = reservation
        let stored = try await client.updateBatchQueue(new, from: queue)
        remember(stored)
        return stored
    }

    public func setDeletionCost(pod: String, cost: Int?) async throws {
        let stored = try await client.annotatePod(pod, [podDeletionCostAnnotation: cost.map(String.init)], namespace: namespace)
        caches.withLock { $0.pods[pod] = stored }
    }

    public func record(_ event: ControllerEvent) async throws {
        let t = now()
        let q = event.queue
        let name = q.metadata.name ?? q.queueName
        let e = Event(metadata: ObjectMeta(name: Event.name(regarding: name, at: t), namespace: namespace),
                      eventTime: MicroTime(t), reportingController: "batchctl.dev/controller", reportingInstance: String(identity.prefix(128)),
                      action: event.action, reason: event.reason, type: event.isWarning ? "Warning" : "Normal", note: String(event.note.prefix(1024)),
                      regarding: ObjectReference(apiVersion: BatchQueue.apiVersion, kind: BatchQueue.kind, namespace: namespace,
                                                 name: name, uid: q.metadata.uid))
        _ = try await client.createEvent(e)
    }

    func remember(_ q: BatchQueue) {
        guard let name = q.metadata.name else { return }
        caches.withLock { $0.queues[name] = q }
    }
}

/// The caches are not filled yet (or their watches keep failing).
public struct ClusterNotReady: Error, CustomStringConvertible {
    public let detail: String
    public var description: String { "the cluster is not readable yet: \(detail)" }
}
