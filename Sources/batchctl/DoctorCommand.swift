import ArgumentParser
import BatchCore
import BatchctlKit
import CeleryRedis
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// `batchctl doctor [QUEUE...]`.
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check Redis, the worker Deployments and your access for the misconfigurations that lose tasks.",
        discussion: """
        Read-only checks, each ok, warn, fail or skip, with the fix in one line.

        Redis: maxmemory-policy is noeviction (any other policy lets a full Redis drop queued tasks silently), memory headroom against maxmemory, persistence (appendonly or RDB save rules).

        Workers, for each queue (default: all): its Deployment exists; the -Q of its celery command names the BatchQueue's spec.queue; its --hostname names the pod; its ready pods send heartbeats; terminationGracePeriodSeconds is longer than the longest task seen running; no HorizontalPodAutoscaler or KEDA ScaledObject targets it. Workers whose heartbeats name no pod of a queue's Deployment (not celery@$(POD_NAME)) are named.

        You: whether you may get, list, watch, update and patch BatchQueues (SelfSubjectAccessReview; skipped where the server lacks it).

        It listens to worker heartbeats for --listen (a task's running time is seen from heartbeats only: give it longer than a few heartbeat intervals).

        Exit status: 0 nothing failed (warnings allowed), 1 a check failed, 2 bad input (such as an unknown queue).
        """
    )

    enum Output: String, ExpressibleByArgument, CaseIterable {
        case table, json
    }

    @Argument(help: ArgumentHelp("Queues to check (default: all).", valueName: "queue"), transform: queueName)
    var queues: [String] = []

    @Option(name: [.short, .customLong("output")], help: "Output format.")
    var output: Output = .table

    @Option(help: ArgumentHelp("How long to listen for worker heartbeats (0s to skip). (default: 5s)", valueName: "duration"), transform: TimeSpan.argument)
    var listen = TimeSpan(milliseconds: 5000)

    @Option(help: ArgumentHelp("The configuration file, for Redis and the Celery layout (default: $BATCHCTL_CONFIG, else the embedded defaults).", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("The broker URL, overriding redis.url (as for 'batchctl probe').", valueName: "url"))
    var redisURL: String?

    @OptionGroup(title: "Cluster options") var cluster: ClusterOptions

    func run() async throws {
        let listenFor = listen
        let service = try await cluster.connect()
        let loaded = try ConfigFile.load(path: config)
        let settings = try RedisSettings.overriding(loaded.config.redis, url: redisURL, masterName: nil)
        let options = RedisConnectionOptions(settings: settings, secrets: loaded.secrets)

        // Queues first: an unknown queue is bad input, before any waiting.
        var selected: [BatchQueue] = []
        if queues.isEmpty {
            selected = try await service.queues()
        } else {
            for name in queues { selected.append(try await service.queue(name)) }
        }
        let all = try await queues.isEmpty ? selected : service.queues()
        let deployments = all.map(\.spec.deployment)

        var checks: [DoctorCheck] = []
        let redis = RedisClient(options: options)
        defer { redis.close() }
        checks += await Self.redisChecks(redis)

        // Heartbeats: sample the listener's view and keep how long each worker's tasks ran.
        var tracker = TaskRunTracker()
        var owners: [String: String?] = [:]  // hostname → its Deployment (the pod it names, selected by its matchLabels)
        var workerPods: WorkerPods?
        var podsProblem: String?
        if listenFor > .zero {
            // The controller's rule (`WorkerPods`): celery@<pod>, and the Deployment whose selector matches that pod.
            do {
                workerPods = try await WorkerPods.read(client: service.client, namespace: service.namespace, deployments: deployments)
            } catch {
                podsProblem = "\(error)"
            }
            let listener = WorkerActivityListener(options: options, layout: loaded.config.celery)
            listener.start()
            defer { listener.stop() }
            let clock = ContinuousClock()
            let end = clock.now.advanced(by: listenFor.duration)
            for _ in 0..<100_000 {
                guard clock.now < end else { break }
                for w in listener.workers() where !w.stale {
                    if owners.count < 10_000 { owners[w.hostname] = .some(workerPods?.deployment(ofHostname: w.hostname)) }
                    tracker.observe(hostname: w.hostname, active: w.active, processed: w.processed,
                                    time: w.lastSeen.timeIntervalSince1970)
                }
                try await Task.sleep(for: .milliseconds(250))
            }
            if owners.isEmpty, let problem = listener.lastError { printError("warning: worker events: \(problem)") }
        }
        if let podsProblem {
            checks.append(DoctorCheck(check: "worker hostnames", status: .skip,
                                      detail: String("the Deployments and pods could not be read, so heartbeats were not mapped to them: \(podsProblem)".prefix(512)),
                                      fix: "run doctor with list access to deployments and pods in this namespace (the controller's or an admin's)"))
        } else {
            let unmapped = owners.filter { $0.value == nil }.map(\.key)
            checks.append(DoctorRules.heartbeatHostnames(unmapped: unmapped, seen: owners.count, deployments: deployments, listened: listenFor > .zero))
        }

        let seen = tracker
        let doctor = ClusterDoctor(client: service.client, namespace: service.namespace)
        let autoscalers = try await doctor.autoscalers()
        for q in selected {
            checks += try await doctor.checks(for: q, autoscalers: autoscalers, listenedSeconds: listenFor > .zero ? max(1, Int(listenFor.seconds)) : 0) { deployment in
                let pods = owners.filter { $0.value == deployment }.map(\.key)
                return ClusterDoctor.Heard(workers: pods.count, longestTask: seen.longestSeconds(hostnames: pods))
            }
        }
        checks.append(try await doctor.access())

        switch output {
        case .json: print(try DoctorReport(checks: checks).json())
        case .table:
            let color = isatty(STDOUT_FILENO) == 1 && (ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty
            print(DoctorReport(checks: checks).table(color: color), terminator: "")
        }
        let failed = checks.filter { $0.status == .fail }
        if !failed.isEmpty { throw DoctorFailed(checks: failed.map(\.check)) }
    }

    /// Redis eviction policy, memory and persistence, from INFO (CONFIG may be disabled on managed Redis).
    static func redisChecks(_ redis: RedisClient) async -> [DoctorCheck] {
        let info: String
        do {
            let reply = try await redis.command(["INFO", "all"])
            guard let text = reply.text else {
                return [DoctorCheck(check: "redis", status: .fail, detail: "INFO answered \(reply.errorMessage ?? "no text")",
                                    fix: "check that the Redis user may run INFO")]
            }
            info = text
        } catch {
            return [DoctorCheck(check: "redis", status: .fail, detail: "cannot reach Redis: \(error)",
                                fix: "check redis.url (or --redis-url) and REDIS_PASSWORD, then 'batchctl probe'")]
        }
        let field = { (name: String) in DoctorRules.infoField(info, name) }
        let save = (try? await redis.command(["CONFIG", "GET", "save"]))?.array?.dropFirst().first?.text
        return [
            DoctorRules.eviction(policy: field("maxmemory_policy")),
            DoctorRules.memory(used: field("used_memory").flatMap { Int($0) }, max: field("maxmemory").flatMap { Int($0) }),
            DoctorRules.persistence(aofEnabled: field("aof_enabled").map { $0 == "1" }, rdbSaveRules: save),
        ]
    }
}

/// Checks that failed; the report was printed.
struct DoctorFailed: BatchctlFailure {
    let checks: [String]
    var kind: FailureKind { .runtime }
    var description: String { "\(checks.count) check\(checks.count == 1 ? "" : "s") failed: \(checks.joined(separator: ", "))" }
}
