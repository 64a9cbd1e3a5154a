import BatchCore
import KubeClient
import MemberwiseInit

/// The cluster side of `batchctl doctor`: reads each queue's worker Deployment, the autoscalers in the
/// namespace and the caller's own access, and turns them into checks with `DoctorRules`. Only GETs, LISTs
/// and SelfSubjectAccessReviews (which change nothing).
@MemberwiseInit(.public)
public struct ClusterDoctor: Sendable {
    public let client: KubeClient
    public let namespace: String

    /// What was heard from a Deployment's workers while listening.
    @MemberwiseInit(.public)
    public struct Heard: Sendable {
        /// Workers (pods) that sent a heartbeat.
        public var workers: Int
        /// The longest task seen running on them, in seconds.
        public var longestTask: Int?
    }

    /// The checks for one BatchQueue's workers. `heard` says what the heartbeats of a Deployment's pods
    /// showed during `listenedSeconds`.
    public func checks(for queue: BatchQueue, autoscalers: Autoscalers, listenedSeconds: Int,
                       heard: (String) -> Heard) async throws -> [DoctorCheck] {
        let name = queue.spec.deployment
        let deployment: WorkerDeployment
        do {
            deployment = try await client.get(WorkerDeployment.self, name, namespace: namespace)
        } catch KubeError.forbidden {
            return [DoctorCheck(check: "\(name) Deployment", status: .skip,
                                detail: "you may not get deployments in \(namespace), so its workers were not checked",
                                fix: "run doctor as someone who may read Deployments (kubectl auth can-i get deployments -n \(namespace))")]
        } catch KubeError.notFound {
            return [DoctorCheck(check: "\(name) Deployment", status: .fail,
                                detail: "BatchQueue \(queue.metadata.name ?? name) names Deployment \(name), which does not exist in \(namespace)",
                                fix: "create the worker Deployment \(name), or fix the BatchQueue's spec.deployment")]
        }
        let pod = deployment.spec?.template?.spec
        let containers = pod?.containers ?? []
        let arguments = DoctorRules.workerArguments(containers: containers.map { ($0.command, $0.args) })
        let fromPods = heard(name)
        return [
            DoctorCheck(check: "\(name) Deployment", status: .ok, detail: "exists, \(deployment.spec?.replicas ?? 1) replicas"),
            DoctorRules.consumesQueue(queue: queue.queueName, deployment: name, arguments: arguments),
            DoctorRules.hostnameArgument(deployment: name, arguments: arguments),
            DoctorRules.heartbeatsHeard(deployment: name, readyReplicas: deployment.status?.readyReplicas ?? 0,
                                        heardFrom: fromPods.workers, listenedSeconds: listenedSeconds),
            DoctorRules.gracePeriod(deployment: name, graceSeconds: pod?.terminationGracePeriodSeconds, longestTaskSeconds: fromPods.longestTask),
            autoscalers.check(deployment: name),
        ]
    }

    /// The HPAs and KEDA ScaledObjects of the namespace, read once for all queues.
    public func autoscalers() async throws -> Autoscalers {
        var result = Autoscalers()
        do {
            for h in try await client.list(HorizontalPodAutoscaler.self, namespace: namespace).items
            where h.spec?.scaleTargetRef?.kind == "Deployment" {
                result.targets.append((h.spec?.scaleTargetRef?.name ?? "", "HorizontalPodAutoscaler/\(h.metadata.name ?? "")"))
            }
        } catch KubeError.notFound {
            result.unreadable.append("the API server does not serve autoscaling/v2 horizontalpodautoscalers")
        } catch KubeError.forbidden {
            result.forbidden.append("horizontalpodautoscalers")
        }
        do {
            for s in try await client.list(ScaledObject.self, namespace: namespace).items
            where (s.spec?.scaleTargetRef?.kind ?? "Deployment") == "Deployment" {
                result.targets.append((s.spec?.scaleTargetRef?.name ?? "", "ScaledObject/\(s.metadata.name ?? "")"))
            }
        } catch KubeError.notFound {
            // KEDA not installed: nothing can target the Deployment through it.
        } catch KubeError.forbidden {
            result.forbidden.append("scaledobjects.keda.sh")
        }
        return result
    }

    /// Whether the caller may do what batchctl's commands do (get, list, watch and update BatchQueues), by
    /// SelfSubjectAccessReview. A skip when the server does not serve that API.
    public func access() async throws -> DoctorCheck {
        var denied: [String] = []
        for verb in ["get", "list", "watch", "update", "patch"] {
            let review = SelfSubjectAccessReview(attributes: .init(namespace: namespace, verb: verb, group: "batchctl.dev", resource: "batchqueues"))
            do {
                let answer = try await client.create(review)
                if answer.status?.allowed != true { denied.append(verb) }
            } catch KubeError.notFound {
                return DoctorCheck(check: "your access", status: .skip,
                                   detail: "the API server does not serve authorization.k8s.io/v1 SelfSubjectAccessReview")
            } catch KubeError.forbidden {
                // Real clusters let every authenticated user create them (ClusterRole system:basic-user).
                return DoctorCheck(check: "your access", status: .skip,
                                   detail: "you may not create SelfSubjectAccessReviews (system:basic-user is missing from this cluster's RBAC)")
            }
        }
        if denied.isEmpty {
            return DoctorCheck(check: "your access", status: .ok, detail: "you may get, list, watch, update and patch batchqueues in \(namespace)")
        }
        return DoctorCheck(check: "your access", status: .warn,
                           detail: "you may not \(denied.joined(separator: ", ")) batchqueues in \(namespace): claim, scale, extend or release will be refused",
                           fix: "ask an admin to add you to the group batchctl:users (RoleBinding batchctl-user, deploy/base/rbac-users.yaml) in \(namespace)")
    }
}

/// The autoscalers of a namespace and what they target.
public struct Autoscalers: Sendable {
    /// (Deployment name, `Kind/name` of the autoscaler).
    public var targets: [(String, String)] = []
    /// Kinds that could not be read, and why.
    public var unreadable: [String] = []
    /// Kinds the caller may not list.
    public var forbidden: [String] = []

    public init() {}

    /// The check for one Deployment.
    public func check(deployment: String) -> DoctorCheck {
        var c = DoctorRules.autoscalers(deployment: deployment, targeting: targets.filter { $0.0 == deployment }.map(\.1))
        if c.status == .ok, !forbidden.isEmpty {
            return DoctorCheck(check: c.check, status: .skip, detail: "you may not list \(forbidden.joined(separator: " or ")) here, so autoscalers were not checked")
        }
        if c.status == .ok, !unreadable.isEmpty { c.detail += " (\(unreadable.joined(separator: "; ")))" }
        return c
    }
}

// MARK: the objects read, with only the fields the checks use

/// `apps/v1` Deployment with its pod template's containers and grace period.
struct WorkerDeployment: KubeResource {
    static let resourceType = Deployment.resourceType
    var metadata: ObjectMeta
    var spec: Spec?
    var status: Status?

    struct Status: Codable, Sendable {
        var readyReplicas: Int?
    }
    struct Spec: Codable, Sendable {
        var replicas: Int?
        var template: Template?
    }
    struct Template: Codable, Sendable {
        var spec: PodSpec?
    }
    struct PodSpec: Codable, Sendable {
        var terminationGracePeriodSeconds: Int?
        var containers: [Container]?
    }
    struct Container: Codable, Sendable {
        var name: String?
        var command: [String]?
        var args: [String]?
    }
}

/// What an autoscaler scales.
struct ScaleTargetRef: Codable, Sendable {
    var kind: String?
    var name: String?
}

/// `autoscaling/v2` HorizontalPodAutoscaler.
struct HorizontalPodAutoscaler: KubeResource {
    static let resourceType = ResourceType(group: "autoscaling", version: "v2", plural: "horizontalpodautoscalers", kind: "HorizontalPodAutoscaler")
    var metadata: ObjectMeta
    var spec: Spec?
    struct Spec: Codable, Sendable { var scaleTargetRef: ScaleTargetRef? }
}

/// KEDA's `keda.sh/v1alpha1` ScaledObject.
struct ScaledObject: KubeResource {
    static let resourceType = ResourceType(group: "keda.sh", version: "v1alpha1", plural: "scaledobjects", kind: "ScaledObject")
    var metadata: ObjectMeta
    var spec: Spec?
    struct Spec: Codable, Sendable { var scaleTargetRef: ScaleTargetRef? }
}

/// `authorization.k8s.io/v1` SelfSubjectAccessReview: may the caller do `verb` on `resource`?
struct SelfSubjectAccessReview: KubeResource {
    static let resourceType = ResourceType(group: "authorization.k8s.io", version: "v1", plural: "selfsubjectaccessreviews",
                                           kind: "SelfSubjectAccessReview", namespaced: false)
    var apiVersion = "authorization.k8s.io/v1"
    var kind = "SelfSubjectAccessReview"
    var metadata = ObjectMeta()
    var spec: Spec
    var status: Status?

    init(attributes: Spec.ResourceAttributes) {
        spec = Spec(resourceAttributes: attributes)
    }

    struct Spec: Codable, Sendable {
        var resourceAttributes: ResourceAttributes
        struct ResourceAttributes: Codable, Sendable {
            var namespace: String
            var verb: String
            var group: String
            var resource: String
        }
    }
    struct Status: Codable, Sendable {
        var allowed: Bool?
    }
}
