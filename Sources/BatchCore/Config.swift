/// The controller's own configuration, the operator's settings: the namespace, where Redis is and how Celery lays
/// queues out in it, how often to poll, the webhook format, and two scaling switches. The rules users are held to
/// (bands, reservation limits, budget, ramp, idle time, reminders, depth thresholds, the `claim --any` order) are
/// not in the file: they live in the cluster, in the namespace's `BatchQueuePolicy` named `default`, and the
/// controller and the CLI read them from there into `policy` (`QueuePolicy`). The queue set is the BatchQueue
/// objects of the namespace.
///
/// `config/batchctl.yaml` documents every key; `BatchConfig.defaults` holds the same values (a test
/// keeps the two equal), so the binary runs with no file at all. Secrets never live here: see `Secrets`.

import MemberwiseInit

public struct BatchConfig: Sendable, Equatable {
    /// Namespace of the BatchQueue objects and the worker Deployments.
    public var namespace: String
    public var redis: RedisSettings
    public var celery: CeleryLayout
    /// How often the controller reads Redis.
    public var pollInterval: TimeSpan
    /// When above zero, desired replicas = ⌈(depth + inFlight) / tasksPerReplica⌉, capped by the ceiling.
    public var tasksPerReplica: Int
    /// Whether workers running tasks (Celery heartbeats with `active` > 0) count: true keeps busy workers
    /// (no sleep, no scale-down below them, pod-deletion-cost before a scale-down, draining after release).
    /// False scales on queue depth and `unacked` alone, as KEDA's Redis scaler does; only for comparisons.
    public var busyAware: Bool = true
    public var webhook: WebhookSettings
    /// Where the guards of the BatchQueuePolicy are evaluated; nil when none is configured (guards then read as unknown).
    public var prometheus: PrometheusSettings?
    /// The rules users are held to, from the cluster's `BatchQueuePolicy` (never from the file); the embedded
    /// defaults until one has been read.
    public var policy: QueuePolicy = .defaults

    /// The embedded defaults; identical to `config/batchctl.yaml`.
    public static let defaults = BatchConfig(
        namespace: "court-listener",
        redis: RedisSettings(url: RedisURL(endpoint: .tcp(host: "redis", port: 6379), database: 0),
                             connectTimeout: .seconds(2), commandTimeout: .seconds(2)),
        celery: .default,
        pollInterval: .seconds(1),
        tasksPerReplica: 0,
        busyAware: true,
        webhook: WebhookSettings(format: .slack, timeout: .seconds(5), retries: 3)
    )

    /// This configuration with the cluster's policy in place of the one it held.
    public func with(policy: QueuePolicy) -> BatchConfig {
        var c = self
        c.policy = policy
        return c
    }

    // The policy's rules, read through the configuration (the decide and reservation code read them here).
    public var bands: [Band] { get { policy.bands } set { policy.bands = newValue } }
    public var rampUp: RampUp { get { policy.rampUp } set { policy.rampUp = newValue } }
    public var idleAfter: TimeSpan { get { policy.idleAfter } set { policy.idleAfter = newValue } }
    public var totalReplicaBudget: Int { get { policy.totalReplicaBudget } set { policy.totalReplicaBudget = newValue } }
    public var busyWorkerGrace: TimeSpan { get { policy.busyWorkerGrace } set { policy.busyWorkerGrace = newValue } }
    public var reservations: ReservationLimits { get { policy.reservations } set { policy.reservations = newValue } }
    public var reminders: ReminderSettings { get { policy.reminders } set { policy.reminders = newValue } }
    public var queueDepth: DepthThresholds { get { policy.queueDepth } set { policy.queueDepth = newValue } }

    /// The band `replicas` falls in; `nil` for 0 or above the largest band.
    public func band(for replicas: Int) -> Band? { policy.band(for: replicas) }
}

/// How to reach Redis: one server, or the master that Redis Sentinels name.
public struct RedisSettings: Sendable, Equatable {
    /// The broker URL without a password (the password comes from `Secrets`). Behind Sentinel, only its
    /// database and ACL user name are used: the host and port are the first sentinel's, and batchctl
    /// connects to the master the sentinels name instead.
    public var url: RedisURL
    /// The sentinels and the master name, when Redis runs behind Sentinel.
    public var sentinel: SentinelSettings?
    public var connectTimeout: TimeSpan
    public var commandTimeout: TimeSpan

    /// Points the settings at the master that `url`'s sentinels know as `masterName`.
    public mutating func useSentinels(_ url: SentinelURL, masterName: String) {
        sentinel = SentinelSettings(url: url, masterName: masterName)
        let first = url.sentinels.first ?? SentinelURL.Address(host: "localhost", port: 26379)
        self.url = RedisURL(endpoint: .tcp(host: first.host, port: first.port), database: url.database,
                            username: url.username, password: url.password)
    }

    /// The broker as configured, safe to print: the Redis URL, or the sentinel URLs and the master name.
    public var displayURL: String {
        guard let sentinel else { return url.description }
        return "\(sentinel.url) (master \(sentinel.masterName))"
    }
}

/// Redis behind Sentinel, as Celery's `broker_url = 'sentinel://...;sentinel://...'` with
/// `broker_transport_options = {'master_name': ...}` configures it.
public struct SentinelSettings: Sendable, Equatable {
    /// The sentinels, asked in turn for the master's address.
    public var url: SentinelURL
    /// The name the sentinels monitor the master under (`sentinel monitor <name> ...`).
    public var masterName: String
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
    public var visibilityTimeout: TimeSpan = .seconds(3600)
    /// kombu's defaults.
    public static let `default` = CeleryLayout(globalKeyPrefix: "", separator: "\u{06}\u{16}", prioritySteps: [0, 3, 6, 9])
}

/// One batch queue and the worker Deployment that consumes it (as a BatchQueue names them).
@MemberwiseInit(.public)
public struct QueueConfig: Sendable, Equatable {
    /// The Celery queue name.
    public var name: String
    /// The worker Deployment in `namespace`.
    public var deployment: String
    /// The four queues deploy/base installs (`batch0`…`batch3`, Deployments `celery-batch0`…), for
    /// `batchctl probe` without `--queue`.
    public static let installed = (0..<4).map { QueueConfig(name: "batch\($0)", deployment: "celery-batch\($0)") }
}

/// A replica band such as "small" (1–5).
public struct Band: Sendable, Equatable {
    public var name: String
    public var min: Int
    public var max: Int
    /// Reservations in this band must pass `--approve-band <name>`.
    public var requiresApproval: Bool
}

/// The "scale up slowly" rule: at most `step` more replicas per `every`.
public struct RampUp: Sendable, Equatable {
    public var step: Int
    /// Zero means no ramp: go straight to the target.
    public var every: TimeSpan
    /// While a guard fails this long, one replica comes off (and one more after each further period).
    public var stepBackAfter: TimeSpan = .minutes(2)
}

/// How long a claim may last.
@MemberwiseInit(.public)
public struct ReservationLimits: Sendable, Equatable {
    /// Used by `claim` without `--for`.
    public var defaultDuration: TimeSpan
    /// The longest `--for` (and `extend`) accepted.
    public var maxDuration: TimeSpan
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
}

/// The team's rule of thumb for queue length: under `good` is good, under `fine` is fine,
/// `careful` and above needs care.
public struct DepthThresholds: Sendable, Equatable {
    public var good: Int
    public var fine: Int
    public var careful: Int
}

/// The Prometheus server the guards are queried on (`GET /api/v1/query`). Its bearer token is read from
/// `tokenFile` (re-read every minute, never logged); `caFile` verifies an https server (default: the system CAs).
@MemberwiseInit(.public)
public struct PrometheusSettings: Sendable, Equatable {
    /// `http(s)://host:port` with an optional path prefix, without credentials.
    public var url: String
    /// A PEM bundle of the CAs that sign the server's certificate.
    public var caFile: String?
    /// A file holding the bearer token sent to Prometheus (a mounted Secret).
    public var tokenFile: String?
    /// The limit for one query; kept inside the poll interval (the smaller of the two is used).
    public var timeout: TimeSpan = .seconds(2)
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
}

extension RedisSettings {
    /// `base` with the command-line overrides applied: `url` replaces redis.url (a `redis://`, `unix://` or
    /// Celery `sentinel://...;...` URL) and `masterName` replaces redis.masterName.
    /// - Throws: `ConfigError` naming the flag: a URL that does not parse, a sentinel URL without a master
    ///   name (from `masterName` or the configuration), or a master name without a sentinel URL.
    public static func overriding(_ base: RedisSettings, url: String?, masterName: String?) throws(ConfigError) -> RedisSettings {
        func fail(_ path: String, _ message: String) -> ConfigError {
            ConfigError(source: "the command line", problems: [ConfigProblem(path: path, message: message)])
        }
        if let masterName, let why = SentinelURL.masterNameProblem(masterName) { throw fail("--master-name", why) }
        var settings = base
        if let url {
            do {
                if SentinelURL.isSentinel(url) {
                    let sentinels = try SentinelURL.parse(url)
                    guard let name = masterName ?? base.sentinel?.masterName else {
                        throw fail("--master-name", "is required with a sentinel:// URL: give the name the sentinels monitor, as in Celery's broker_transport_options = {'master_name': 'mymaster'}")
                    }
                    settings.useSentinels(sentinels, masterName: name)
                    return settings
                }
                settings.url = try RedisURL.parse(url)
                settings.sentinel = nil
            } catch let error as RedisURLError {
                throw fail("--redis-url", error.description)
            } catch let error as ConfigError {
                throw error
            } catch {
                throw fail("--redis-url", "\(error)")
            }
        }
        if let masterName {
            guard let sentinel = settings.sentinel else {
                throw fail("--master-name", "needs Redis Sentinels: give them with --redis-url sentinel://host:26379;sentinel://host2:26379 or in redis.url")
            }
            settings.useSentinels(sentinel.url, masterName: masterName)
        }
        return settings
    }
}
