// What the controller observes each pass: the cluster (from watch-fed caches) and Redis. One model, produced by
// the adapters (Controller/Adapters) and `batchctl probe`, read by `decide`, the usage ledger and the plan of writes.

import MemberwiseInit

/// One read of Redis: every configured queue, memory, and the workers heard from.
@MemberwiseInit(.public)
public struct RedisSnapshot: Sendable, Equatable {
    /// By Celery queue name. A queue with an error (say, its key has the wrong type) has nil counts.
    public var queues: [String: QueueReading]
    public var memory: RedisMemoryReading?
    /// Workers whose heartbeats are fresh.
    public var workers: [WorkerActivity] = []

    /// The probe's readings as they come (one per queue, each named), keyed by name; the first of a
    /// repeated name is kept.
    public init(readings: [QueueReading], memory: RedisMemoryReading? = nil, workers: [WorkerActivity] = []) {
        self.init(queues: Dictionary(readings.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first }),
                  memory: memory, workers: workers)
    }
}

/// What Redis says about one Celery queue: its depth and in-flight tasks, or why they could not be read.
/// Produced by the CeleryRedis probe (`QueueProbe`), read by the controller and printed by `batchctl probe`
/// (JSON fields `name`, `depth`, `inFlight`, `error`).
@MemberwiseInit(.public)
public struct QueueReading: Sendable, Codable, Equatable {
    /// The Celery queue name.
    public var name: String
    /// Σ LLEN over the queue's priority lists; nil when it could not be read (see `error`).
    public var depth: Int?
    /// Entries of the `unacked` hash routed to this queue: prefetched, ETA/countdown, executing with
    /// `acks_late`, and orphans of dead workers. Nil when `unacked` could not be read.
    public var inFlight: Int?
    /// Why `depth` or `inFlight` is missing, naming the key and the cause.
    public var error: String?
    /// When the in-flight entries were delivered (`unacked_index`), to the second, oldest first; nil when
    /// `inFlight` is. Not part of the JSON (`batchctl probe` prints counts).
    public var deliveries: [DeliveryGroup]?

    private enum CodingKeys: String, CodingKey { case name, depth, inFlight, error }

    /// Equal counts and error; delivery times are not compared (they are when the tasks were delivered).
    public static func == (a: QueueReading, b: QueueReading) -> Bool {
        a.name == b.name && a.depth == b.depth && a.inFlight == b.inFlight && a.error == b.error
    }
}

/// Redis `used_memory` and `maxmemory` (0 = no limit), bytes, from `INFO memory`.
@MemberwiseInit(.public)
public struct RedisMemoryReading: Sendable, Codable, Equatable {
    public var used: Int64
    public var max: Int64

    /// `used` as a whole percentage of `max` (rounded down), nil when there is no limit. Saturates: the
    /// numbers come from the server's `INFO` reply.
    public var usedPercent: Int64? {
        guard max > 0 else { return nil }
        let (scaled, overflow) = used.multipliedReportingOverflow(by: 100)
        if !overflow { return scaled / max }
        let (coarse, again) = (used / max).multipliedReportingOverflow(by: 100)
        return again ? .max : coarse
    }

    /// `used` is above `percent`% of `max` (never when there is no limit), exactly, without overflow.
    public func isAbove(percent: Int) -> Bool {
        guard max > 0 else { return false }
        let (a, overflowA) = used.multipliedReportingOverflow(by: 100)
        let (b, overflowB) = max.multipliedReportingOverflow(by: Int64(clamping: percent))
        if overflowA || overflowB { return Double(used) * 100 > Double(max) * Double(percent) }
        return a > b
    }
}

/// A Celery worker's latest heartbeat: `hostname` is `celery@<pod-name>`.
@MemberwiseInit(.public)
public struct WorkerActivity: Sendable, Equatable {
    public var hostname: String
    /// Tasks running now.
    public var active: Int
    /// Tasks started since the worker started, running ones included (the heartbeat's `processed`, clamped).
    public var processed: Int = 0
    /// The pod name, when the hostname is `celery@<pod-name>` (any other prefix is not one of batchctl's
    /// workers: heartbeats come from whoever can publish on the broker).
    public var podName: String? { WorkerPods.podName(hostname: hostname) }
}

/// A worker Deployment as the controller needs it.
@MemberwiseInit(.public)
public struct DeploymentState: Sendable, Equatable {
    public var name: String
    /// `spec.replicas`.
    public var replicas: Int
    public var readyReplicas: Int
    /// `spec.selector.matchLabels`, to find its pods.
    public var selector: [String: String]
    /// The worker container's `command` then `args` (`Deployment.workerArguments`), for the
    /// `WorkersMisconfigured` condition; nil when not read (then the condition is left as it is).
    public var workerArguments: [String]?
}

extension DeploymentState {
    /// The pods among `pods` that its `matchLabels` select (`WorkerPods.selects`: the one rule the controller,
    /// the plan and `batchctl probe` share).
    public func pods(among pods: [PodState]) -> [PodState] {
        pods.filter { WorkerPods.selects(selector, labels: $0.labels) }
    }
}

/// A pod of a worker Deployment.
@MemberwiseInit(.public)
public struct PodState: Sendable, Equatable {
    public var name: String
    public var labels: [String: String]
    /// `controller.kubernetes.io/pod-deletion-cost`, if set.
    public var deletionCost: Int?
    /// Running with its `Ready` condition true. The ReplicaSet removes pods that are not (pending, not
    /// ready) before any ready one, whatever their deletion cost.
    public var ready: Bool = true
    /// When its worker process last started (container `startedAt`), if it is running; nil otherwise.
    public var workerStartedAt: KubeTime?
}

/// The namespace's `BatchQueuePolicy` named `default`, as the controller last read it.
public enum PolicyState: Sendable, Equatable {
    /// Read and valid.
    case found(QueuePolicy)
    /// There is none (or the resource is not installed): the embedded defaults apply.
    case missing
    /// It exists but breaks a rule (the problems): the embedded defaults apply until it is fixed.
    case invalid(String)
}

/// An object of the cluster that does not decode, left out of the snapshot (the others are used).
@MemberwiseInit(.public)
public struct SkippedObject: Sendable, Hashable, CustomStringConvertible {
    /// `BatchQueue`, `Deployment` or `Pod`.
    public var kind: String
    public var name: String
    public var uid: String?
    /// What does not decode, with the field's path.
    public var problem: String
    /// `BatchQueue batch9 does not decode (spec.maxReplicas: ...)`.
    public var description: String { "\(kind) \(name.isEmpty ? "(no name)" : name) does not decode (\(problem)); fix or delete it" }
}

/// What the controller reads from the cluster each pass (from watch-fed caches).
@MemberwiseInit(.public)
public struct ClusterSnapshot: Sendable {
    public var queues: [BatchQueue]
    /// By name.
    public var deployments: [String: DeploymentState]
    public var pods: [PodState]
    /// The namespace's policy; nil when this client does not read one (the configuration's policy applies).
    public var policy: PolicyState?
    /// Objects left out because they do not decode, sorted by kind and name.
    public var skipped: [SkippedObject] = []
    /// Pods being deleted (not in `pods`: nothing is decided from them), still running until their
    /// process exits, so the usage ledger counts them.
    public var terminatingPods: [PodState] = []
}

/// An Event to record on a BatchQueue.
@MemberwiseInit(.public)
public struct ControllerEvent: Sendable, Equatable {
    public var queue: BatchQueue
    /// `Normal` or `Warning`.
    public var isWarning: Bool
    /// CamelCase, such as `ReservationExpiringSoon` or `ScaleRestored`.
    public var reason: String
    /// Short verb for `events.k8s.io/v1` `action`, such as `Remind` or `Scale`.
    public var action: String
    public var note: String
}
