import ArgumentParser
import BatchCore
import BatchctlKit
import CeleryRedis
import FoundationEssentials

/// `batchctl probe`: what the controller sees in Redis, read directly.
struct ProbeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Show each queue's depth, in-flight tasks and busy workers, read directly from Redis.",
        discussion: """
        Reads, in one pipelined round trip, the depth of every queue (--queue, else batch0 to batch3) (the sum of LLEN over its priority lists), its in-flight tasks (entries of kombu's 'unacked' hash routed to it) and Redis memory, and listens to Celery worker heartbeats for --listen to list the workers and how many tasks each is running. Nothing is written to Redis.

        busyWorkers counts workers with active tasks whose pod belongs to the queue's Deployment, by the controller's rule: the worker's hostname is celery@<pod name>, and the Deployment's spec.selector.matchLabels selects that pod. When workers were heard, the Deployments and pods are read from the cluster (the cluster options; the namespace is -n, else the context's, as for every cluster command); if they cannot be read, a busy count that depends on them is unknown (-) and a warning says why.

        The Redis password comes from REDIS_PASSWORD or REDIS_PASSWORD_FILE, or from the URL.

        Behind Redis Sentinel, give the sentinels as Celery's broker_url lists them (sentinel://s1:26379;sentinel://s2:26379) and the master name (Celery's broker_transport_options master_name) with --master-name or redis.masterName; the sentinels' own password comes from REDIS_SENTINEL_PASSWORD or REDIS_SENTINEL_PASSWORD_FILE. The report names the master read and the sentinel that named it.

        Exit status: 0 ok, 1 Redis unreachable or a queue unreadable (the report is still printed), 2 bad flags or configuration.
        """
    )

    enum Output: String, ExpressibleByArgument, CaseIterable {
        case table, json
    }

    @OptionGroup var configFile: ConfigFileOption

    @OptionGroup(title: "Cluster options") var cluster: ClusterOptions

    @Option(help: ArgumentHelp("The broker URL, overriding redis.url: redis://[user:password@]host:port/db, unix:///path.sock, or sentinel://host:26379;sentinel://host2:26379.", valueName: "url"))
    var redisURL: String?

    @Option(help: ArgumentHelp("The Sentinel master name, overriding redis.masterName (Celery's broker_transport_options master_name).", valueName: "name"))
    var masterName: String?

    @Option(name: [.short, .customLong("output")], help: "Output format.")
    var output: Output = .table

    @Option(help: ArgumentHelp("How long to listen for worker heartbeats (0s to skip). (default: 2500ms)", valueName: "duration"), transform: TimeSpan.argument)
    var listen = TimeSpan(milliseconds: 2500)

    @Option(name: .customLong("queue"), help: ArgumentHelp("A queue to probe, as name or name=deployment (repeatable; default batch0 to batch3, the queues deploy/base installs; the controller probes the BatchQueues it sees).", valueName: "queue"))
    var queueNames: [String] = []

    @Option(name: .customLong("celery-global-keyprefix"), help: ArgumentHelp("Celery's global_keyprefix, overriding celery.globalKeyPrefix.", valueName: "prefix"))
    var globalKeyPrefix: String?

    @Option(name: .customLong("celery-sep"), help: ArgumentHelp("Celery's sep, overriding celery.separator; \\xHH escapes allowed (default \\x06\\x16).", valueName: "sep"))
    var separator: String?

    @Option(name: .customLong("celery-priority-steps"), help: ArgumentHelp("Celery's priority_steps, comma-separated, overriding celery.prioritySteps (default 0,3,6,9).", valueName: "steps"))
    var prioritySteps: String?

    /// `--queue` values (`name` or `name=deployment`, the Deployment defaulting to `celery-<name>`), else the installed four.
    static func queues(_ values: [String]) throws -> [QueueConfig] {
        guard !values.isEmpty else { return QueueConfig.installed }
        return try values.map { value in
            let parts = value.split(separator: "=", maxSplits: 1).map(String.init)
            let name = parts.first ?? ""
            let deployment = parts.count == 2 ? parts[1] : "celery-\(name)"
            if let why = KubernetesNames.queueNameProblem(name) { throw ValidationError("--queue \(value): \"\(name)\" \(why)") }
            if let why = KubernetesNames.dnsSubdomainProblem(deployment) { throw ValidationError("--queue \(value): \"\(deployment)\" \(why)") }
            return QueueConfig(name: name, deployment: deployment)
        }
    }

    func validate() throws {
        if let separator {
            let sep = try Self.unescape(separator)
            if sep.isEmpty { throw ValidationError("--celery-sep is empty; give the separator, e.g. ':' or '\\x06\\x16'") }
        }
        if let prioritySteps { _ = try Self.steps(prioritySteps) }
        if let masterName, let why = SentinelURL.masterNameProblem(masterName) { throw ValidationError("--master-name \(why)") }
        _ = try Self.queues(queueNames)
    }

    func run() async throws {
        let loaded = try configFile.load()
        let settings = try RedisSettings.overriding(loaded.config.redis, url: redisURL, masterName: masterName)
        var layout = loaded.config.celery
        if let globalKeyPrefix { layout.globalKeyPrefix = globalKeyPrefix }
        if let separator { layout.separator = try Self.unescape(separator) }
        if let prioritySteps { layout.prioritySteps = try Self.steps(prioritySteps) }
        let listenFor = listen
        let queues = try Self.queues(queueNames)

        let options = RedisConnectionOptions(settings: settings, secrets: loaded.secrets)
        let client = RedisClient(options: options)
        defer { client.close() }
        let clock: WallClock = { .now }   // one "now" for the observation's time and the heartbeats' freshness
        let probe = QueueProbe(client: client, layout: layout, queues: queues.map(\.name), clock: clock)
        var listener: WorkerActivityListener?
        if listenFor > .zero {
            listener = WorkerActivityListener(options: options, layout: layout, clock: clock)
            listener?.start()
        }
        defer { listener?.stop() }

        // Fail fast when Redis is unreachable, then look again once the heartbeats had time to arrive.
        var result = try await probe.observe()
        // A large `unacked` takes several bounded passes to read whole the first time (see QueueProbe).
        var passes = 1
        while result.unacked.pending != nil && passes < 1000 {
            result = try await probe.observe()
            passes += 1
        }
        if listenFor > .zero {
            try await Task.sleep(for: listenFor.duration)
            result = try await probe.observe()
        }
        let workers = listener?.workers() ?? []
        let source = client.source
        var pods: WorkerPods?
        if !workers.isEmpty {
            do {
                let kube = try cluster.client()
                pods = try await WorkerPods.read(client: kube, namespace: kube.namespace, deployments: queues.map(\.deployment))
            } catch {
                printError("warning: workers not assigned to Deployments: their Deployments and pods could not be read (\(error)); give the cluster with --kubeconfig, --context and -n, with list access to deployments and pods")
            }
        }
        let report = ProbeReport(result: result, queues: queues, workers: listener == nil ? nil : workers, pods: pods,
                                 server: source?.server ?? options.server, database: settings.url.database, listenedFor: listenFor,
                                 masterName: settings.sentinel?.masterName, sentinel: source?.sentinel)
        switch output {
        case .json: print(try report.json())
        case .table: print(report.table(), terminator: "")
        }
        if let listener, let problem = listener.lastError, workers.isEmpty {
            printError("warning: worker events: \(problem)")
        }
        let problems = result.queues.compactMap { q in q.error.map { "queue \(q.name): \($0)" } } + [result.unacked.error].compactMap { $0 }
        if !problems.isEmpty { throw ProbeProblems(problems: problems) }
    }

    /// Reads `\xHH`, `\t`, `\n` and `\\` escapes, so a control-byte separator can be typed.
    static func unescape(_ text: String) throws -> String {
        var out: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        while let c = bytes.popFirst() {
            guard c == UInt8(ascii: "\\"), let e = bytes.popFirst() else {
                out.append(c)
                continue
            }
            switch e {
            case UInt8(ascii: "x"):
                guard bytes.count >= 2, let v = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16) else {
                    throw ValidationError("--celery-sep has a bad escape; write bytes as \\xHH, e.g. '\\x06\\x16'")
                }
                out.append(v)
                bytes = bytes.dropFirst(2)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
            default: throw ValidationError("--celery-sep has an unknown escape \\\(Character(Unicode.Scalar(e))); use \\xHH, \\t, \\n or \\\\")
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses `0,3,6,9`.
    static func steps(_ text: String) throws -> [Int] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingWhitespace() }
        var steps: [Int] = []
        for p in parts {
            guard let n = Int(p), (0...9).contains(n) else {
                throw ValidationError("--celery-priority-steps \"\(text)\" must be numbers from 0 to 9 separated by commas, e.g. 0,3,6,9")
            }
            guard !steps.contains(n) else { throw ValidationError("--celery-priority-steps \"\(text)\" repeats \(n)") }
            steps.append(n)
        }
        return steps
    }
}

/// Queues that could not be read; the report was printed anyway.
struct ProbeProblems: BatchctlFailure {
    let problems: [String]
    var kind: FailureKind { .runtime }
    var description: String { problems.joined(separator: "\nerror: ") }
}
