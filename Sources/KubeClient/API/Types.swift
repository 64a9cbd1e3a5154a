import BatchCore
import MemberwiseInit

// The parts batchctl only decodes and never builds outside this module (deployment spec and template, pod
// status, conditions and container states, event series and source, the user of a SelfSubjectReview) have no
// public initialiser: the synthesized memberwise one serves this module and its tests.

extension KeyedDecodingContainer {
    /// Missing (omitempty) integers are 0.
    func int(_ key: Key) throws -> Int { try decodeIfPresent(Int.self, forKey: key) ?? 0 }

    /// The value at `key`, or `empty` when it is absent or null: the API server omits empty fields
    /// (`omitempty`), so a missing `spec`, `status` or `metadata` is an empty one, not an error.
    func decode<T: Decodable>(_ key: Key, orEmpty empty: @autoclosure () -> T) throws -> T {
        try decodeIfPresent(T.self, forKey: key) ?? empty()
    }
}

/// `apiVersion`, `kind` and `metadata` as every object and list carries them, read with a container of their
/// own so each type's decoder reads only its own fields; `metadata` is empty when absent.
struct ObjectHeader<Meta: Decodable> {
    enum CodingKeys: String, CodingKey { case apiVersion, kind, metadata }

    static func decode(from decoder: any Decoder, emptyMetadata: @autoclosure () -> Meta) throws
        -> (apiVersion: String?, kind: String?, metadata: Meta) {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        return (try c.decodeIfPresent(String.self, forKey: .apiVersion), try c.decodeIfPresent(String.self, forKey: .kind),
                try c.decode(.metadata, orEmpty: emptyMetadata()))
    }
}

// MARK: apps/v1 Deployment

/// `apps/v1` Deployment: the fields batchctl uses.
public struct Deployment: KubeResource, Hashable {
    /// `deployments.apps/v1`.
    public static let resourceType = ResourceType(group: "apps", version: "v1", plural: "deployments", kind: "Deployment")
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: DeploymentSpec
    public var status: DeploymentStatus

    public init(metadata: ObjectMeta, spec: DeploymentSpec, status: DeploymentStatus = DeploymentStatus()) {
        apiVersion = "apps/v1"
        kind = "Deployment"
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public init(from decoder: any Decoder) throws {
        (apiVersion, kind, metadata) = try ObjectHeader.decode(from: decoder, emptyMetadata: ObjectMeta())
        let c = try decoder.container(keyedBy: CodingKeys.self)
        spec = try c.decode(.spec, orEmpty: DeploymentSpec())
        status = try c.decode(.status, orEmpty: DeploymentStatus())
    }
}

/// The Deployment spec fields batchctl uses.
public struct DeploymentSpec: Sendable, Hashable, Codable {
    /// nil means the server default (1).
    public var replicas: Int?
    public var selector: LabelSelector?
    public var template: PodTemplate?
}

/// The Pod template's metadata (labels and annotations) and its containers' commands; the rest of the pod
/// spec is not modelled.
public struct PodTemplate: Sendable, Hashable, Codable {
    public var metadata: ObjectMeta?
    public var spec: PodTemplateSpec?
}

/// The pod spec of a template, as far as batchctl reads it: the worker container's command and args. Decoding
/// keeps only that container (see `DoctorRules.workerArguments`), with `command` then `args` joined into
/// `command`, at most 256 strings of at most 4096 characters (API objects are untrusted; the controller
/// caches every Deployment of its namespace and keeps its memory small).
@MemberwiseInit(.public)
public struct PodTemplateSpec: Sendable, Hashable, Codable {
    public var containers: [ContainerCommand]?

    private enum CodingKeys: String, CodingKey { case containers }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guard let all = try c.decodeIfPresent([ContainerCommand].self, forKey: .containers) else { return }
        let arguments = DoctorRules.workerArguments(containers: all.map { ($0.command, $0.args) })
        let worker = all.first { ($0.command ?? []) + ($0.args ?? []) == arguments } ?? all.first
        containers = worker.map { [ContainerCommand(name: $0.name, command: arguments.prefix(256).map { String($0.prefix(4096)) })] } ?? []
    }
}

/// A container's name, `command` and `args`.
public struct ContainerCommand: Sendable, Hashable, Codable {
    public var name: String?
    public var command: [String]?
    public var args: [String]?
}

extension Deployment {
    /// The worker container's `command` then `args` (see `PodTemplateSpec`); empty when it sets neither.
    public var workerArguments: [String] {
        let containers = spec.template?.spec?.containers ?? []
        return DoctorRules.workerArguments(containers: containers.map { ($0.command, $0.args) })
    }
}

/// Deployment status; fields the server omits (zero values) decode as 0.
@MemberwiseInit(.public)
public struct DeploymentStatus: Sendable, Hashable, Codable {
    public var observedGeneration: Int = 0
    public var replicas: Int = 0
    public var updatedReplicas: Int = 0
    public var readyReplicas: Int = 0
    public var availableReplicas: Int = 0

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        observedGeneration = try c.int(.observedGeneration)
        replicas = try c.int(.replicas)
        updatedReplicas = try c.int(.updatedReplicas)
        readyReplicas = try c.int(.readyReplicas)
        availableReplicas = try c.int(.availableReplicas)
    }
}

// MARK: autoscaling/v1 Scale

/// `autoscaling/v1` Scale, served at `deployments/{name}/scale`. Its resourceVersion is the Deployment's.
public struct Scale: Sendable, Hashable, Codable {
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status

    /// `spec`: the desired replicas (0 when omitted).
    @MemberwiseInit(.public)
    public struct Spec: Sendable, Hashable, Codable {
        public var replicas: Int
        public init(from decoder: any Decoder) throws {
            replicas = try decoder.container(keyedBy: CodingKeys.self).int(.replicas)
        }
    }

    /// `status`: the current replicas and the selector.
    @MemberwiseInit(.public)
    public struct Status: Sendable, Hashable, Codable {
        public var replicas: Int
        /// The label selector as a string (`app=web`).
        public var selector: String?
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            replicas = try c.int(.replicas)
            selector = try c.decodeIfPresent(String.self, forKey: .selector)
        }
    }

    public init(from decoder: any Decoder) throws {
        (apiVersion, kind, metadata) = try ObjectHeader.decode(from: decoder, emptyMetadata: ObjectMeta())
        let c = try decoder.container(keyedBy: CodingKeys.self)
        spec = try c.decode(.spec, orEmpty: Spec(replicas: 0))
        status = try c.decode(.status, orEmpty: Status(replicas: 0))
    }
}

// MARK: core/v1 Pod

/// `v1` Pod: metadata and phase.
public struct Pod: KubeResource, Hashable {
    /// `pods` in the core group.
    public static let resourceType = ResourceType(group: "", version: "v1", plural: "pods", kind: "Pod")
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var status: PodStatus?

    public init(metadata: ObjectMeta, status: PodStatus? = nil) {
        apiVersion = "v1"
        kind = "Pod"
        self.metadata = metadata
        self.status = status
    }
}

/// Pod status: phase, IP, conditions, and when the pod and its containers started.
public struct PodStatus: Sendable, Hashable, Codable {
    /// `Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`.
    public var phase: String?
    public var podIP: String?
    /// `Ready`, `ContainersReady`, ... (type and status only).
    public var conditions: [PodCondition]?
    /// RFC 3339: when the kubelet accepted the pod (before its containers started).
    public var startTime: String?
    public var containerStatuses: [ContainerStatus]?

    /// The `Ready` condition is `True` (what the ReplicaSet controller's scale-down order reads).
    public var isReady: Bool { conditions?.contains { $0.type == "Ready" && $0.status == "True" } == true }

    /// The latest `state.running.startedAt` among the containers (a restarted container is a new
    /// process), else `startTime`; nil when neither parses.
    public var processesStartedAt: KubeTime? {
        let running = (containerStatuses ?? []).compactMap { $0.state?.running?.startedAt.flatMap { KubeTime(rfc3339: $0) } }
        return running.max() ?? startTime.flatMap { KubeTime(rfc3339: $0) }
    }
}

/// One pod condition: its type and status.
public struct PodCondition: Sendable, Hashable, Codable {
    public var type: String
    public var status: String
}

/// One container's status: only its current state is read.
public struct ContainerStatus: Sendable, Hashable, Codable {
    public var name: String?
    public var state: ContainerState?
}

/// `running` with its start time; the other states are not read.
public struct ContainerState: Sendable, Hashable, Codable {
    public struct Running: Sendable, Hashable, Codable {
        public var startedAt: String?
    }
    public var running: Running?
}

// MARK: events.k8s.io/v1 Event

/// `events.k8s.io/v1` Event.
public struct Event: KubeResource, Hashable {
    /// `events.events.k8s.io/v1`.
    public static let resourceType = ResourceType(group: "events.k8s.io", version: "v1", plural: "events", kind: "Event")
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    /// Null for an event written through core/v1 (any client-go `EventRecorder`): its times are then in
    /// `deprecatedFirstTimestamp` / `deprecatedLastTimestamp`.
    public var eventTime: MicroTime?
    /// Empty for a core/v1 event (see `deprecatedSource`).
    public var reportingController: String
    public var reportingInstance: String
    public var action: String
    public var reason: String
    /// `Normal` or `Warning`.
    public var type: String
    public var note: String?
    public var regarding: ObjectReference
    public var related: ObjectReference?
    public var series: EventSeries?
    /// core/v1 `firstTimestamp`, `lastTimestamp`, `count` and `source`, as events.k8s.io/v1 shows them.
    public var deprecatedFirstTimestamp: KubeTime?
    public var deprecatedLastTimestamp: KubeTime?
    public var deprecatedCount: Int?
    public var deprecatedSource: EventSource?

    public init(metadata: ObjectMeta, eventTime: MicroTime?, reportingController: String, reportingInstance: String,
                action: String, reason: String, type: String, note: String? = nil, regarding: ObjectReference,
                related: ObjectReference? = nil, series: EventSeries? = nil) {
        apiVersion = "events.k8s.io/v1"
        kind = "Event"
        self.metadata = metadata
        self.eventTime = eventTime
        self.reportingController = reportingController
        self.reportingInstance = reportingInstance
        self.action = action
        self.reason = reason
        self.type = type
        self.note = note
        self.regarding = regarding
        self.related = related
        self.series = series
    }

    /// Reads both shapes: a native events.k8s.io/v1 event, and a core/v1 event seen through
    /// events.k8s.io/v1 (`eventTime` null, no reporting fields, times in `deprecated*`).
    public init(from decoder: any Decoder) throws {
        (apiVersion, kind, metadata) = try ObjectHeader.decode(from: decoder, emptyMetadata: ObjectMeta())
        let c = try decoder.container(keyedBy: CodingKeys.self)
        eventTime = try c.decodeIfPresent(MicroTime.self, forKey: .eventTime)
        reportingController = try c.decodeIfPresent(String.self, forKey: .reportingController) ?? ""
        reportingInstance = try c.decodeIfPresent(String.self, forKey: .reportingInstance) ?? ""
        action = try c.decodeIfPresent(String.self, forKey: .action) ?? ""
        reason = try c.decodeIfPresent(String.self, forKey: .reason) ?? ""
        type = try c.decodeIfPresent(String.self, forKey: .type) ?? ""
        note = try c.decodeIfPresent(String.self, forKey: .note)
        regarding = try c.decode(.regarding, orEmpty: ObjectReference())
        related = try c.decodeIfPresent(ObjectReference.self, forKey: .related)
        series = try c.decodeIfPresent(EventSeries.self, forKey: .series)
        deprecatedFirstTimestamp = try c.decodeIfPresent(KubeTime.self, forKey: .deprecatedFirstTimestamp)
        deprecatedLastTimestamp = try c.decodeIfPresent(KubeTime.self, forKey: .deprecatedLastTimestamp)
        deprecatedCount = try c.decodeIfPresent(Int.self, forKey: .deprecatedCount)
        deprecatedSource = try c.decodeIfPresent(EventSource.self, forKey: .deprecatedSource)
    }

    /// When it last happened, whichever shape it has: the series, `eventTime`, the core/v1 times, or its creation.
    public var lastSeen: KubeTime {
        series?.lastObservedTime.time ?? deprecatedLastTimestamp ?? eventTime?.time ?? deprecatedFirstTimestamp
            ?? metadata.creationTimestamp ?? KubeTime(secondsSinceEpoch: 0)
    }

    /// How often it happened (1 when not repeated).
    public var occurrences: Int { max(series?.count ?? 0, deprecatedCount ?? 0, 1) }

    /// Who reported it: `reportingController`, or a core/v1 event's `source.component`.
    public var reporter: String { reportingController.isEmpty ? (deprecatedSource?.component ?? "") : reportingController }
}

/// core/v1 `EventSource`.
public struct EventSource: Sendable, Hashable, Codable {
    public var component: String?
    public var host: String?
}

extension Event {
    /// A unique event name as client-go makes them: `<regarding name>.<hex nanoseconds since the epoch>`.
    public static func name(regarding: String, at time: KubeTime) -> String {
        "\(regarding).\(String(UInt64(max(0, time.microsecondsSinceEpoch)) * 1000, radix: 16))"
    }
}

/// A reference to an object (`regarding`, `related`).
@MemberwiseInit(.public)
public struct ObjectReference: Sendable, Hashable, Codable {
    public var apiVersion: String?
    public var kind: String?
    public var namespace: String?
    public var name: String?
    public var uid: String?
    public var resourceVersion: String?
}

/// A repeated event: how often and when last.
public struct EventSeries: Sendable, Hashable, Codable {
    public var count: Int
    public var lastObservedTime: MicroTime
}

// MARK: coordination.k8s.io/v1 Lease

/// `coordination.k8s.io/v1` Lease, for leader election.
public struct Lease: KubeResource, Hashable {
    /// `leases.coordination.k8s.io/v1`.
    public static let resourceType = ResourceType(group: "coordination.k8s.io", version: "v1", plural: "leases", kind: "Lease")
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: LeaseSpec

    public init(metadata: ObjectMeta, spec: LeaseSpec) {
        apiVersion = "coordination.k8s.io/v1"
        kind = "Lease"
        self.metadata = metadata
        self.spec = spec
    }

    public init(from decoder: any Decoder) throws {
        (apiVersion, kind, metadata) = try ObjectHeader.decode(from: decoder, emptyMetadata: ObjectMeta())
        let c = try decoder.container(keyedBy: CodingKeys.self)
        spec = try c.decode(.spec, orEmpty: LeaseSpec())
    }
}

/// Every field of the Lease spec, so a PUT of a fetched Lease drops nothing.
@MemberwiseInit(.public)
public struct LeaseSpec: Sendable, Hashable, Codable {
    public var holderIdentity: String?
    public var leaseDurationSeconds: Int?
    public var acquireTime: MicroTime?
    public var renewTime: MicroTime?
    public var leaseTransitions: Int?
    public var strategy: String?
    public var preferredHolder: String?
}

// MARK: authentication.k8s.io/v1 SelfSubjectReview

/// Who the API server says the caller is.
public struct UserInfo: Sendable, Hashable, Codable {
    public var username: String
    public var uid: String?
    public var groups: [String]?
    public var extra: [String: [String]]?
}

/// `authentication.k8s.io/v1` SelfSubjectReview (`kubectl auth whoami`).
public struct SelfSubjectReview: Sendable, Codable {
    public var apiVersion: String = "authentication.k8s.io/v1"
    public var kind: String = "SelfSubjectReview"
    public var status: Status?

    /// `status.userInfo`: the authenticated user.
    public struct Status: Sendable, Codable {
        public var userInfo: UserInfo?
    }

    public init() {}
}
