/// The whole batchctl configuration: where Redis is and how Celery lays queues out in it, which queues
/// and Deployments exist, and the scaling, reservation and reminder policy.
///
/// `config/batchctl.yaml` documents every key; `BatchConfig.defaults` holds the same values (a test
/// keeps the two equal), so the binary runs with no file at all. Secrets never live here: see `Secrets`.
public struct BatchConfig: Sendable, Equatable {
    /// Namespace of the BatchQueue objects and the worker Deployments.
    public var namespace: String
    public var redis: RedisSettings
    public var celery: CeleryLayout
    /// The batch queues, in the order `claim --any` tries them.
    public var queues: [QueueConfig]
    /// How often the controller reads Redis.
    public var pollInterval: TimeSpan
    /// Replica bands from the smallest to the largest; a reservation above a band that
    /// `requiresApproval` must name that band.
    public var bands: [Band]
    public var rampUp: RampUp
    /// A reserved queue with no work for this long goes to zero replicas.
    public var idleAfter: TimeSpan
    /// The sum of desired replicas over all queues never exceeds this (protects the shared database).
    public var totalReplicaBudget: Int
    /// When above zero, desired replicas = ⌈(depth + inFlight) / tasksPerReplica⌉, capped by the ceiling.
    public var tasksPerReplica: Int
    /// After a release or expiry, how long busy workers may finish their tasks before being stopped.
    public var busyWorkerGrace: TimeSpan
    /// Whether workers running tasks (Celery heartbeats with `active` > 0) count: true keeps busy workers
    /// (no sleep, no scale-down below them, pod-deletion-cost before a scale-down, draining after release).
    /// False scales on queue depth and `unacked` alone, as KEDA's Redis scaler does; only for comparisons.
    public var busyAware: Bool
    public var reservations: ReservationLimits
    public var reminders: ReminderSettings
    public var queueDepth: DepthThresholds
    public var webhook: WebhookSettings

    public init(namespace: String, redis: RedisSettings, celery: CeleryLayout, queues: [QueueConfig],
                pollInterval: TimeSpan, bands: [Band], rampUp: RampUp, idleAfter: TimeSpan,
                totalReplicaBudget: Int, tasksPerReplica: Int, busyWorkerGrace: TimeSpan, busyAware: Bool = true,
                reservations: ReservationLimits, reminders: ReminderSettings, queueDepth: DepthThresholds,
                webhook: WebhookSettings) {
        self.namespace = namespace
        self.redis = redis
        self.celery = celery
        self.queues = queues
        self.pollInterval = pollInterval
        self.bands = bands
        self.rampUp = rampUp
        self.idleAfter = idleAfter
        self.totalReplicaBudget = totalReplicaBudget
        self.tasksPerReplica = tasksPerReplica
        self.busyWorkerGrace = busyWorkerGrace
        self.busyAware = busyAware
        self.reservations = reservations
        self.reminders = reminders
        self.queueDepth = queueDepth
        self.webhook = webhook
    }

    /// The embedded defaults; identical to `config/batchctl.yaml`.
    public static let defaults = BatchConfig(
        namespace: "court-listener",
        redis: RedisSettings(url: RedisURL(endpoint: .tcp(host: "redis", port: 6379), database: 0),
                             connectTimeout: .seconds(2), commandTimeout: .seconds(2)),
        celery: .default,
        queues: (0..<4).map { QueueConfig(name: "batch\($0)", deployment: "celery-batch\($0)") },
        pollInterval: .seconds(1),
        bands: [
            Band(name: "small", min: 1, max: 5, requiresApproval: false),
            Band(name: "medium", min: 6, max: 10, requiresApproval: false),
            Band(name: "big", min: 11, max: 20, requiresApproval: true),
        ],
        rampUp: RampUp(step: 2, every: .seconds(30)),
        idleAfter: .minutes(15),
        totalReplicaBudget: 40,
        tasksPerReplica: 0,
        busyWorkerGrace: .hours(1),
        busyAware: true,
        reservations: ReservationLimits(defaultDuration: .days(1), maxDuration: .days(14)),
        reminders: ReminderSettings(expiringBefore: [.hours(24), .hours(1)], idleEvery: .hours(24),
                                    orphanedEvery: .hours(1), redisMemoryHighPercent: 80),
        queueDepth: DepthThresholds(good: 100, fine: 500, careful: 1000),
        webhook: WebhookSettings(format: .slack, timeout: .seconds(5), retries: 3)
    )

    /// The configured queue called `name`, if any.
    public func queue(named name: String) -> QueueConfig? { queues.first { $0.name == name } }

    /// The band `replicas` falls in; `nil` for 0 or above the largest band.
    public func band(for replicas: Int) -> Band? { bands.first { $0.min <= replicas && replicas <= $0.max } }
}

/// How to reach Redis.
public struct RedisSettings: Sendable, Equatable {
    /// The broker URL without a password (the password comes from `Secrets`).
    public var url: RedisURL
    public var connectTimeout: TimeSpan
    public var commandTimeout: TimeSpan
    public init(url: RedisURL, connectTimeout: TimeSpan, commandTimeout: TimeSpan) {
        self.url = url
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
    }
}

/// How Celery (kombu's Redis transport) names its keys; must match the Celery app's
/// `broker_transport_options`.
public struct CeleryLayout: Sendable, Equatable {
    /// `global_keyprefix`, prepended to every key.
    public var globalKeyPrefix: String
    /// `sep`, between a queue name and its priority step (default the two bytes 0x06 0x16).
    public var separator: String
    /// `priority_steps`; step 0 is the bare queue name.
    public var prioritySteps: [Int]
    /// `visibility_timeout`: how long after delivery kombu puts an unacknowledged message back on its
    /// queue (kombu's default 1 h). Used to say when a stranded task is redelivered, and to start a worker
    /// then (kombu restores messages only while a consumer polls).
    public var visibilityTimeout: TimeSpan
    public init(globalKeyPrefix: String, separator: String, prioritySteps: [Int], visibilityTimeout: TimeSpan = .seconds(3600)) {
        self.globalKeyPrefix = globalKeyPrefix
        self.separator = separator
        self.prioritySteps = prioritySteps
        self.visibilityTimeout = visibilityTimeout
    }
    /// kombu's defaults.
    public static let `default` = CeleryLayout(globalKeyPrefix: "", separator: "\u{06}\u{16}", prioritySteps: [0, 3, 6, 9])
}

/// One batch queue and the worker Deployment that consumes it.
public struct QueueConfig: Sendable, Equatable {
    /// The Celery queue name, also the BatchQueue object's name.
    public var name: String
    /// The worker Deployment in `namespace`.
    public var deployment: String
    public init(name: String, deployment: String) {
        self.name = name
        self.deployment = deployment
    }
}

/// A replica band such as "small" (1–5).
public struct Band: Sendable, Equatable {
    public var name: String
    public var min: Int
    public var max: Int
    /// Reservations in this band must pass `--approve-band <name>`.
    public var requiresApproval: Bool
    public init(name: String, min: Int, max: Int, requiresApproval: Bool) {
        self.name = name
        self.min = min
        self.max = max
        self.requiresApproval = requiresApproval
    }
}

/// The "scale up slowly" rule: at most `step` more replicas per `every`.
public struct RampUp: Sendable, Equatable {
    public var step: Int
    /// Zero means no ramp: go straight to the target.
    public var every: TimeSpan
    public init(step: Int, every: TimeSpan) {
        self.step = step
        self.every = every
    }
}

/// How long a claim may last.
public struct ReservationLimits: Sendable, Equatable {
    /// Used by `claim` without `--for`.
    public var defaultDuration: TimeSpan
    /// The longest `--for` (and `extend`) accepted.
    public var maxDuration: TimeSpan
    public init(defaultDuration: TimeSpan, maxDuration: TimeSpan) {
        self.defaultDuration = defaultDuration
        self.maxDuration = maxDuration
    }
}

/// When reminders go out.
public struct ReminderSettings: Sendable, Equatable {
    /// Before expiry, one reminder per threshold, largest first.
    public var expiringBefore: [TimeSpan]
    /// A held queue that stays idle is reminded about this often.
    public var idleEvery: TimeSpan
    /// Tasks on an unclaimed queue are reported at most this often.
    public var orphanedEvery: TimeSpan
    /// Redis `used_memory` above this percentage of `maxmemory` raises a reminder.
    public var redisMemoryHighPercent: Int
    public init(expiringBefore: [TimeSpan], idleEvery: TimeSpan, orphanedEvery: TimeSpan, redisMemoryHighPercent: Int) {
        self.expiringBefore = expiringBefore
        self.idleEvery = idleEvery
        self.orphanedEvery = orphanedEvery
        self.redisMemoryHighPercent = redisMemoryHighPercent
    }
}

/// The team's rule of thumb for queue length: under `good` is good, under `fine` is fine,
/// `careful` and above needs care.
public struct DepthThresholds: Sendable, Equatable {
    public var good: Int
    public var fine: Int
    public var careful: Int
    public init(good: Int, fine: Int, careful: Int) {
        self.good = good
        self.fine = fine
        self.careful = careful
    }
}

/// How reminders are posted to the webhook (its URL is a secret: see `Secrets`).
public struct WebhookSettings: Sendable, Equatable {
    public enum Format: String, Sendable, Equatable, CaseIterable {
        /// `{"text": "..."}`, which Slack, Mattermost and Rocket.Chat accept.
        case slack
        /// Every field of the reminder as a JSON object.
        case json
    }
    public var format: Format
    public var timeout: TimeSpan
    public var retries: Int
    public init(format: Format, timeout: TimeSpan, retries: Int) {
        self.format = format
        self.timeout = timeout
        self.retries = retries
    }
}
