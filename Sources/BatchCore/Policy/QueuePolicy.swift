import YAML

/// The rules users are held to in one namespace, as its `BatchQueuePolicy` named `default` sets them: replica
/// bands and their approval, how long a reservation lasts by default and at most, the replica budget, the ramp,
/// idle time, busy-worker grace, reminder and queue-depth thresholds, and the order `claim --any` tries queues.
///
/// The API server holds it (one source of truth): the controller and every user's CLI read it from the
/// cluster, and the admission policy enforces it. `QueuePolicy.defaults` equals the CRD's schema defaults
/// (deploy/crds/crd-batchqueuepolicies.yaml; a test keeps the two equal).
public struct QueuePolicy: Sendable, Equatable {
    /// Replica bands from the smallest to the largest; a reservation above a band that
    /// `requiresApproval` must name that band.
    public var bands: [Band]
    public var rampUp: RampUp
    /// A reserved queue with no work for this long goes to zero replicas.
    public var idleAfter: TimeSpan
    /// The sum of desired replicas over all queues never exceeds this (protects the shared database).
    public var totalReplicaBudget: Int
    /// After a release or expiry, how long busy workers may finish their tasks before being stopped.
    public var busyWorkerGrace: TimeSpan
    public var reservations: ReservationLimits
    public var reminders: ReminderSettings
    public var queueDepth: DepthThresholds
    /// BatchQueue names in the order `claim --any` tries them; queues not listed come after, by name.
    public var claimOrder: [String] = []
    /// Health checks a claimed queue's ramp waits on (see `Guard`); none by default.
    public var guards: [Guard] = []

    /// The embedded defaults, used when a namespace has no `BatchQueuePolicy` named `default`; equal to the
    /// CRD's schema defaults.
    public static let defaults = QueuePolicy(
        bands: [
            Band(name: "small", min: 1, max: 5, requiresApproval: false),
            Band(name: "medium", min: 6, max: 10, requiresApproval: false),
            Band(name: "big", min: 11, max: 20, requiresApproval: true),
        ],
        rampUp: RampUp(step: 2, every: .seconds(30)),
        idleAfter: .minutes(15),
        totalReplicaBudget: 40,
        busyWorkerGrace: .hours(1),
        reservations: ReservationLimits(defaultDuration: .days(1), maxDuration: .days(14)),
        reminders: ReminderSettings(expiringBefore: [.hours(24), .hours(1)], idleEvery: .hours(24),
                                    orphanedEvery: .hours(1), redisMemoryHighPercent: 80),
        queueDepth: DepthThresholds(good: 100, fine: 500, careful: 1000),
        claimOrder: []
    )

    /// The band `replicas` falls in; `nil` for 0 or above the largest band.
    public func band(for replicas: Int) -> Band? { bands.first { $0.min <= replicas && replicas <= $0.max } }

    /// `names` in the order `claim --any` tries them: those in `claimOrder` first, in its order, then the rest by name.
    public func claimOrdered(_ names: [String]) -> [String] {
        let rank = Dictionary(claimOrder.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        return names.sorted { a, b in
            let (ra, rb) = (rank[a] ?? Int.max, rank[b] ?? Int.max)
            return ra != rb ? ra < rb : a < b
        }
    }
}

/// The `BatchQueuePolicy` custom resource (`batchqueuepolicies.batchctl.dev/v1alpha1`): the object named
/// `default` in a namespace holds the `QueuePolicy` of its BatchQueues. The spec is kept as JSON and read with
/// `BatchQueuePolicy.policy()`, which checks it as `config validate` checks a file.
public struct BatchQueuePolicy: Sendable, Hashable, Codable {
    /// `batchctl.dev/v1alpha1`.
    public static let apiVersion = "batchctl.dev/v1alpha1"
    /// `BatchQueuePolicy`.
    public static let kind = "BatchQueuePolicy"
    /// The one object a namespace's queues follow.
    public static let defaultName = "default"

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: JSONValue?

    public init(metadata: ObjectMeta, spec: JSONValue?) {
        self.apiVersion = Self.apiVersion
        self.kind = Self.kind
        self.metadata = metadata
        self.spec = spec
    }

    /// Where the policy came from, for messages: `BatchQueuePolicy court-listener/default`.
    public var source: String { "BatchQueuePolicy \(metadata.namespace.map { "\($0)/" } ?? "")\(metadata.name ?? Self.defaultName)" }

    /// The spec as a checked `QueuePolicy`; fields left out keep the embedded defaults.
    /// - Throws: `ConfigError` listing every problem, with its `spec.` path.
    public func policy() throws(ConfigError) -> QueuePolicy {
        try ConfigLoader.loadPolicy(spec: spec?.yamlNode, source: source)
    }
}
