import ArgumentParser
import BatchCore
import CeleryRedis
import Controller
import FoundationEssentials
import KubeClient
import Logging
import ServiceLifecycle

struct ControllerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "controller",
        abstract: "Run the controller: scale the batch Deployments from queue depth and reservations.",
        discussion: """
        Every poll interval the leader reads the BatchQueues (every one it sees is a queue: added or removed at run time, no restart), the namespace's BatchQueuePolicy named default (the rules: bands, durations, budget, ramp, idle time, reminders; the embedded defaults and a PolicyDefaults condition when there is none), the worker Deployments and their pods (from watches), clamps a reservation outside the policy (expiry past claimedAt + maxDuration, claimedAt in the future, replicas above the cap) in one write with a Warning Event, reads each queue's depth, in-flight tasks and busy workers from Redis in one round trip, decides, and writes only what differs: /scale, BatchQueue status, Events. Replicas are never lowered on missing data, nor below the number of workers running tasks.

        With guards in the BatchQueuePolicy (spec.guards: PromQL expressions that return a result while a service is healthy) it queries the Prometheus at prometheus.url once per guard per pass, while a queue is claimed: a claimed queue steps up only while every guard is healthy, holds while one fails or cannot be read (condition Guarded, reminders GuardTripped and GuardRecovered), and gives back one replica after each rampUp.stepBackAfter of failing. The bearer token comes from the file prometheus.tokenFile.

        Run two replicas: they elect a leader with a Lease (15 s / 10 s / 2 s by default, as client-go); on SIGTERM the leader releases it so the other takes over at once. Metrics and health are served on --metrics-addr: /metrics, /healthz, /readyz.

        The namespace is -n, else the configuration's namespace. The Redis password comes from REDIS_PASSWORD or REDIS_PASSWORD_FILE (or the --redis-url). Behind Redis Sentinel (redis.url sentinel://...;sentinel://... and redis.masterName, as in Celery's broker settings) it reads the master the sentinels name and follows it through a failover, holding replicas while the master is unknown; the sentinels' own password comes from REDIS_SENTINEL_PASSWORD or REDIS_SENTINEL_PASSWORD_FILE.

        Reminders (expiring soon, expired, sleeping, idle, orphaned tasks, Redis memory high) become Events on the BatchQueue and log lines, and are posted to the webhook in BATCHCTL_WEBHOOK_URL or BATCHCTL_WEBHOOK_URL_FILE when one is set (webhook.format, webhook.timeout, webhook.retries); a failing webhook never delays a pass. What was sent is recorded in status.reminders, so a restart or a new leader repeats none.
        """
    )

    @OptionGroup var configFile: ConfigFileOption

    @Option(help: ArgumentHelp("The Redis URL, overriding redis.url (a Celery sentinel://host:26379;sentinel://host2:26379 list for Redis behind Sentinel).", valueName: "url"))
    var redisURL: String?

    @Option(help: ArgumentHelp("The Sentinel master name, overriding redis.masterName (Celery's broker_transport_options master_name).", valueName: "name"))
    var masterName: String?

    @Option(help: ArgumentHelp("Where to serve /metrics, /healthz and /readyz.", valueName: "host:port"))
    var metricsAddr = "0.0.0.0:9090"

    @OptionGroup(title: "Cluster options") var cluster: KubeconfigOptions

    @Flag(inversion: .prefixedNo, help: "Elect a leader with a Lease, so several replicas can run.")
    var leaderElect = true

    @Option(help: ArgumentHelp("The leader Lease's name.", valueName: "name"))
    var leaseName = "batchctl-controller"

    @Option(name: .customLong("leader-elect-lease-duration"),
            help: ArgumentHelp("How long a standby waits after the leader's last renewal before taking over. (default: 15s)", valueName: "duration"),
            transform: TimeSpan.argument)
    var leaseDuration = TimeSpan(milliseconds: 15_000)

    @Option(name: .customLong("leader-elect-renew-deadline"),
            help: ArgumentHelp("How long the leader keeps leading without a successful renewal. (default: 10s)", valueName: "duration"),
            transform: TimeSpan.argument)
    var renewDeadline = TimeSpan(milliseconds: 10_000)

    @Option(name: .customLong("leader-elect-retry-period"),
            help: ArgumentHelp("How often the Lease is renewed, or tried by a standby. (default: 2s)", valueName: "duration"),
            transform: TimeSpan.argument)
    var retryPeriod = TimeSpan(milliseconds: 2_000)

    @Flag(name: [.short, .long], help: "Log each pass at debug level.")
    var verbose = false

    func validate() throws {
        _ = try Self.address(metricsAddr)
        _ = try leaseTimings()
    }

    func run() async throws {
        let level: Logger.Level = verbose ? .debug : .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "batchctl.controller")
        let loaded = try configFile.load()
        var settings = loaded.config
        var secrets = loaded.secrets
        if redisURL != nil || masterName != nil {
            settings.redis = try RedisSettings.overriding(settings.redis, url: redisURL, masterName: masterName)
            if let password = settings.redis.url.password, secrets.redisPassword == nil {
                secrets.redisPassword = Secret(value: password, origin: "--redis-url")
            }
        }
        let cluster = try self.cluster.load(configured: settings.namespace)
        let ns = cluster.namespace
        let (host, port) = try Self.address(metricsAddr)
        let identity = Self.identity()

        let metrics = ControllerMetrics()
        let client = KubeClient(transport: KubeTransport(config: cluster, onAttempt: { metrics.recordKubeRequest(verb: $0, code: $1) }))
        // The one wall clock every part reads "now" from (intervals and sleeps use ContinuousClock).
        let clock: WallClock = { .now }
        let kube = KubeCluster(client: client, namespace: ns, identity: identity, now: clock)
        let redis = RedisObserver(options: RedisConnectionOptions(settings: settings.redis, secrets: secrets),
                                  layout: settings.celery, logger: logger, clock: clock)
        let webhook = secrets.webhookURL.map { url in
            WebhookNotifier(sender: WebhookSender(url: url, options: .init(settings: settings.webhook), logger: logger),
                            format: settings.webhook.format, metrics: metrics, logger: logger, clock: clock)
        }
        let elector = leaderElect
            ? LeaderElector(identity: identity, store: KubeLeaseStore(client: client, name: leaseName, namespace: ns),
                            timings: try leaseTimings(), now: clock)
            : nil
        var guards: PrometheusGuards?
        if let prometheus = settings.prometheus { guards = try PrometheusGuards(settings: prometheus) }
        let reconciler = Reconciler(config: settings, settings: .init(pollInterval: settings.pollInterval), observer: redis,
                                    cluster: kube, notifier: webhook, guards: guards, logger: logger, writeFence: { elector?.isLeader ?? true }, clock: clock)
        let service = ControllerService(reconciler: reconciler, elector: elector, metrics: metrics,
                                        pollInterval: settings.pollInterval.duration, nudges: kube.specChanges, logger: logger)
        let health = try HealthServer(host: host, port: port, log: { [logger] in logger.warning("\($0)") }) { service.respond(to: $0) }
        logger.notice("Starting", metadata: [
            "version": "\(BatchctlVersion.current)", "identity": "\(identity)", "namespace": "\(ns)",
            "apiServer": "\(cluster.server)", "redis": "\(settings.redis.displayURL)", "metrics": "\(host):\(health.port)",
            "prometheus": "\(settings.prometheus?.url ?? "none")",
            "webhook": "\(webhook.map { "\($0.sender.maskedURL) (\(settings.webhook.format.rawValue))" } ?? "none")",
        ])
        // Shut down in reverse: the webhook sender drains, the passes stop, then the caches, the heartbeat
        // listener and, last, the health server (it answers probes until the rest has stopped).
        // Each service is named here: without a name, ServiceLifecycle names it "\(service)", which formats the
        // type name with the runtime's demangler and brings its code into memory (BENCHMARKS.md, "Controller memory").
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: health, serviceName: "HealthServer"), .init(service: redis, serviceName: "RedisObserver"),
                       .init(service: CacheFeeder(cluster: kube), serviceName: "CacheFeeder"),
                       .init(service: service, serviceName: "ControllerService")]
                + (webhook.map { [.init(service: $0, serviceName: "WebhookNotifier")] } ?? []),
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// The three `--leader-elect-*` durations, checked as client-go checks them.
    func leaseTimings() throws -> LeaderElector.Timings {
        let timings = LeaderElector.Timings(leaseDuration: leaseDuration.duration, renewDeadline: renewDeadline.duration,
                                            retryPeriod: retryPeriod.duration)
        if timings.leaseDuration < .seconds(1) {
            throw ValidationError("--leader-elect-lease-duration \(leaseDuration) is under 1s; the Lease stores whole seconds, so write 1s or more")
        }
        if let problem = timings.problem {
            let named = problem.message(leaseDuration: "--leader-elect-lease-duration", renewDeadline: "--leader-elect-renew-deadline",
                                        retryPeriod: "--leader-elect-retry-period")
            throw ValidationError("\(named) (they are \(leaseDuration), \(renewDeadline) and \(retryPeriod), as client-go requires)")
        }
        return timings
    }

    /// `host:port`, `[v6]:port`, or `:port` (all interfaces).
    static func address(_ text: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("--metrics-addr \(text) is not host:port; write for example 0.0.0.0:9090 or [::]:9090")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    /// `<pod name or host name>_<random>`, as controller-runtime names candidates.
    static func identity() -> String {
        let env = ProcessInfo.processInfo.environment
        let base = env["POD_NAME"].flatMap { $0.isEmpty ? nil : $0 } ?? ProcessInfo.processInfo.hostName
        return "\(base)_\(UUID().uuidString.prefix(8).lowercased())"
    }
}

/// Keeps the cluster caches fed until shutdown.
struct CacheFeeder: Service {
    let cluster: KubeCluster
    func run() async throws {
        await cancelWhenGracefulShutdown { await cluster.run() }
    }
}
