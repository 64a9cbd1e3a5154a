import MemberwiseInit
import YAML

/// The `BatchQueue` custom resource (`batchqueues.batchctl.dev/v1alpha1`): one object per Celery queue,
/// holding the reservation (spec) and what the controller observed and decided (status).
public struct BatchQueue: Sendable, Hashable, Codable {
    /// `batchctl.dev/v1alpha1`.
    public static let apiVersion = "batchctl.dev/v1alpha1"
    /// `BatchQueue`.
    public static let kind = "BatchQueue"

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: BatchQueueSpec
    public var status: BatchQueueStatus?

    public init(metadata: ObjectMeta, spec: BatchQueueSpec, status: BatchQueueStatus? = nil) {
        self.apiVersion = Self.apiVersion
        self.kind = Self.kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    /// The Celery queue: `spec.queue`, or the object's name when unset.
    public var queueName: String { spec.queue ?? metadata.name ?? "" }
}

/// What users and admins set on a BatchQueue.
@MemberwiseInit(.public)
public struct BatchQueueSpec: Sendable, Hashable, Codable {
    /// Celery queue name; defaults to `metadata.name`.
    public var queue: String?
    /// The worker Deployment in the same namespace.
    public var deployment: String
    /// Admin cap; users cannot exceed it.
    public var maxReplicas: Int?
    /// Admin: the controller reports but does not scale.
    public var paused: Bool?
    /// The claim; nil means the queue is free.
    public var reservation: Reservation?
    /// Admin: guards of this queue alone, added to the BatchQueuePolicy's (one with a policy guard's name
    /// replaces it for this queue).
    public var guards: [QueueGuard]?
}

/// A claim on a queue, recorded in `spec.reservation`.
@MemberwiseInit(.public)
public struct Reservation: Sendable, Hashable, Codable {
    /// The claimer as the API server authenticated them (from a SelfSubjectReview).
    public var holder: String
    public var reason: String?
    public var claimedAt: KubeTime
    public var expiresAt: KubeTime
    /// The holder's replica ceiling.
    public var replicas: Int
    /// The band the holder approved (`big` is required for 11–20 replicas).
    public var approvedBand: String?
    /// The controller releases the claim once the queue has drained and stayed idle for `idleAfter`
    /// (`claim --release-when-done`); nil or false: only `release` or expiry end it.
    public var releaseWhenDone: Bool?
}

/// The phase shown in `kubectl get bq` and `batchctl status`.
public enum BatchQueuePhase: String, Sendable, Hashable, Codable, CaseIterable {
    case free = "Free"
    case reserved = "Reserved"
    case running = "Running"
    case sleeping = "Sleeping"
    case orphaned = "Orphaned"
    case paused = "Paused"
    case unknown = "Unknown"

    /// Unrecognised phases (from a newer controller) decode as `.unknown` rather than failing.
    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        self = BatchQueuePhase(rawValue: raw) ?? .unknown
    }
}

/// What the controller observed and decided, written through the `/status` subresource.
@MemberwiseInit(.public)
public struct BatchQueueStatus: Sendable, Hashable, Codable {
    public var observedGeneration: Int64?
    public var phase: BatchQueuePhase?
    /// Σ LLEN over the queue's priority lists.
    public var depth: Int?
    /// Unacked entries routed to this queue.
    public var inFlight: Int?
    /// Workers whose heartbeat reports active tasks.
    public var busyWorkers: Int?
    /// In-flight entries (part of `inFlight`) delivered to workers that have since died: no live worker
    /// holds them until Celery redelivers them. Nil when there are none.
    public var stranded: Int?
    /// When Celery redelivers the first stranded entry (its delivery time + `celery.visibilityTimeout`).
    public var strandedRedeliveryAt: KubeTime?
    public var replicas: Int?
    public var readyReplicas: Int?
    public var desiredReplicas: Int?
    /// The last time the queue had queued, in-flight or running tasks.
    public var lastActiveAt: KubeTime?
    /// The last time the controller raised replicas (the ramp-up clock).
    public var lastScaleUpAt: KubeTime?
    /// Since when busy workers have been allowed to finish after the reservation ended.
    public var drainingSince: KubeTime?
    /// The BatchQueuePolicy's guards as last read for this claimed queue (nil when there are none or it is not claimed).
    public var guards: [GuardStatus]?
    /// The last time a failing guard took a replica off (the step-back clock).
    public var guardSteppedBackAt: KubeTime?
    /// Which reminders were sent, so restarts and leader changes do not repeat them.
    public var reminders: ReminderLog?
    /// What the current and the last claims used (see `UsageLedger`).
    public var usage: UsageLedger?
    public var conditions: [Condition]?
}

extension BatchQueueStatus {
    /// Queued, held in-flight (stranded entries aside) or running tasks were seen: the observation's rule
    /// (`QueueObservation.hasWork`) applied to the counts recorded here.
    public var hasWork: Bool {
        QueueObservation.hasWork(depth: depth ?? 0, inFlight: inFlight ?? 0, stranded: stranded ?? 0, busyWorkers: busyWorkers ?? 0)
    }
}

/// A `metav1.Condition`.
@MemberwiseInit(.public)
public struct Condition: Sendable, Hashable, Codable {
    public var type: String
    /// `True`, `False` or `Unknown`.
    public var status: String
    public var reason: String
    public var message: String
    public var lastTransitionTime: KubeTime
    public var observedGeneration: Int64?
}
