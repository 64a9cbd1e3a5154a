import BatchCore
import BatchTesting
import CeleryRedis
import Foundation
import KubeSim
import LocalProcesses

/// The whole system on loopback, in one temporary directory: redis-server, KubeSim with its kubelet (the
/// `celery-batch0..3` Deployments run real `celery worker` processes), the CRD and the four BatchQueues,
/// `batchctl controller` as a separate process talking HTTPS to KubeSim with a kubeconfig, and a webhook
/// receiver for its reminders.
final class DemoSystem: Sendable {
    static let namespace = "court-listener"
    static let queues = ["batch0", "batch1", "batch2", "batch3"]
    /// KubeSim's administrator, for installing the CRD, the queues and the Deployments.
    static let admin = UserInfo(name: "admin", groups: ["batchctl:admins", "system:masters"])

    let paths: DemoPaths
    let directory: String
    let processes: ProcessRegistry
    let redis: RedisServer
    let kube: EmbeddedKubeSim
    let receiver: ReminderReceiver
    let controller: ChildProcess
    let probe: QueueProbe
    let ledger: TaskLedger
    /// Prometheus and the redis exporter, when the demo shows a guard (interactive, Prometheus installed).
    let prometheus: PrometheusFixture?
    /// The guard's threshold: Redis's memory at start + 50 MB.
    let guardThreshold: Int

    /// The kubeconfig KubeSim wrote (contexts admin, alice, bob).
    var kubeconfig: String { "\(kube.directory)/kubeconfig" }
    var redisURL: String { redis.url }
    var simulator: Simulator { kube.simulator }

    private init(paths: DemoPaths, directory: String, processes: ProcessRegistry, redis: RedisServer, kube: EmbeddedKubeSim,
                 receiver: ReminderReceiver, controller: ChildProcess, probe: QueueProbe, ledger: TaskLedger,
                 prometheus: PrometheusFixture?, guardThreshold: Int) {
        self.paths = paths
        self.directory = directory
        self.processes = processes
        self.redis = redis
        self.kube = kube
        self.receiver = receiver
        self.controller = controller
        self.probe = probe
        self.ledger = ledger
        self.prometheus = prometheus
        self.guardThreshold = guardThreshold
    }

    /// How to trip the guard by hand (interactive), or why there is none.
    var guardInstructions: String {
        guard prometheus != nil else {
            return "(No guard in this demo: install Debian's prometheus and prometheus-redis-exporter, `make deps`, to try one.)"
        }
        return """
            A guard (BatchQueuePolicy spec.guards, redis-memory: redis_memory_used_bytes < \(guardThreshold), read from a real
            Prometheus on \(prometheus?.url ?? "")) holds every claimed queue's ramp while Redis grows. To trip it, while batch3 ramps:
                redis-cli -p \(redis.port) EVAL "redis.call('SET', 'ballast', string.rep('x', 60000000))" 0
                batchctl status --context alice; batchctl describe batch3 --context alice
            and to recover: redis-cli -p \(redis.port) DEL ballast
            """
    }

    /// Starts everything; on failure (or Ctrl-C) stops what was started and removes the directory.
    static func start(paths: DemoPaths, timeline: Timeline, narrator: Narrator, guarded: Bool = false,
                      onReminder: @escaping @Sendable (ReminderReceiver.Reminder) -> Void) async throws -> DemoSystem {
        let temporary: TemporaryDirectory
        do {
            temporary = try TemporaryDirectory(prefix: "kubesim-demo")
            try FileManager.default.createDirectory(atPath: "\(temporary.path)/logs", withIntermediateDirectories: true)
        } catch {
            throw DemoError.startFailed("cannot create a temporary directory: \(error)")
        }
        let directory = temporary.path
        let processes = ProcessRegistry(timeline: timeline, logDirectory: "\(directory)/logs")
        // The first step added runs last: the directory goes once every process has stopped.
        processes.onStop { withExtendedLifetime(temporary) { try? FileManager.default.removeItem(atPath: temporary.path) } }
        do {
            return try await startParts(paths: paths, directory: directory, processes: processes, timeline: timeline,
                                        narrator: narrator, guarded: guarded, onReminder: onReminder)
        } catch {
            await processes.stopAll()
            throw error
        }
    }

    private static func startParts(paths: DemoPaths, directory: String, processes: ProcessRegistry, timeline: Timeline,
                                   narrator: Narrator, guarded: Bool,
                                   onReminder: @escaping @Sendable (ReminderReceiver.Reminder) -> Void) async throws -> DemoSystem {
        narrator.say("Starting the whole system on 127.0.0.1, in \(directory)")

        let redis: RedisServer
        do {
            redis = try await Blocking.value { try RedisServer(in: directory) }
        } catch {
            throw DemoError.startFailed("\(error)")
        }
        processes.onStop { await Blocking.run { redis.stop() } }
        if let pid = redis.pid { timeline.started(pid: pid) }
        narrator.say("redis-server (the Celery broker) on 127.0.0.1:\(redis.port)")
        try Interrupt.check()

        // A guard on Redis memory, read from a real Prometheus scraping a real redis exporter (interactive only:
        // the narrated scenario's timings stay as they are).
        var prometheus: PrometheusFixture?
        var threshold = 0
        if guarded {
            do {
                let fixture = try await Blocking.value { try PrometheusFixture(redisPort: redis.port) }
                processes.onStop { await Blocking.run { fixture.stop() } }
                threshold = Int(try await Blocking.value { try fixture.query("redis_memory_used_bytes").first ?? 0 }) + 50_000_000
                prometheus = fixture
                narrator.say("Prometheus on \(fixture.url), scraping prometheus-redis-exporter every second (for the guard)")
            } catch {
                narrator.say("No guard in this demo: \(error)")
            }
        }
        try Interrupt.check()

        let receiver = try await ReminderReceiver.start(onReminder: onReminder)
        processes.onStop { await receiver.stop() }
        try Interrupt.check()

        // What deploy/ installs, enforced as on a cluster: its RBAC, users in its groups, its admission policies.
        let policies: (rbac: String, users: String, celPython: String)
        do { policies = try DeployPolicies.serveFiles(directory: directory) } catch {
            throw DemoError.missing("\(error) (or `make demo`, which installs what is missing)")
        }
        var options = APIServer.Options(directory: "\(directory)/kube")
        options.rbacFile = policies.rbac
        options.usersFile = policies.users
        options.simulator.celPython = policies.celPython
        options.kubelet = true
        options.announce = false
        options.namespace = namespace
        options.shutdownGrace = .seconds(10)
        let kube = try await EmbeddedKubeSim.start(options: options)
        processes.onStop { await kube.stop() }
        narrator.say("KubeSim (the Kubernetes API emulator) on \(kube.url); its kubelet runs pods as local processes")
        try Interrupt.check()

        let ledger = try TaskLedger(path: "\(directory)/completions.txt")
        try await install(kube.simulator, paths: paths, redisURL: redis.url, completions: ledger.path,
                          guards: prometheus == nil ? "" : "  guards: [{name: redis-memory, expr: \"redis_memory_used_bytes < \(threshold)\"}]\n")
        narrator.say("Installed the BatchQueue CRD, deploy/'s RBAC and admission policies, batch0..batch3 and the Deployments celery-batch0..3 (0 replicas; each pod runs `celery worker`)")

        let configPath = "\(directory)/batchctl.yaml"
        do {
            try (controllerConfig(redisURL: redis.url) + (prometheus.map { "prometheus: {url: \"\($0.url)\"}\n" } ?? ""))
                .write(toFile: configPath, atomically: true, encoding: .utf8)
        } catch {
            throw DemoError.startFailed("cannot write \(configPath): \(error)")
        }
        let metricsPort = (try? FreePort.next()) ?? 0
        let controller = try processes.start(
            name: "batchctl-controller", executable: paths.batchctl,
            arguments: ["controller", "--config", configPath, "--kubeconfig", "\(kube.directory)/kubeconfig",
                        "--context", DeployPolicies.controllerServiceAccount,
                        "--metrics-addr", "127.0.0.1:\(metricsPort)"],
            environment: ["BATCHCTL_WEBHOOK_URL": receiver.url, "POD_NAME": "batchctl-controller-demo"])
        try await waitForController(kube.simulator, controller: controller)
        narrator.say("batchctl controller (pid \(controller.pid)) reports on every queue: poll 500ms, ramp +1 replica every 3s, idle after 5s; its reminders go to a webhook on 127.0.0.1:\(receiver.port)")

        let client = RedisClient(options: RedisConnectionOptions(url: try RedisURL.parse(redis.url)))
        processes.onStop { client.close() }
        let probe = QueueProbe(client: client, layout: .default, queues: queues)
        return DemoSystem(paths: paths, directory: directory, processes: processes, redis: redis, kube: kube,
                          receiver: receiver, controller: controller, probe: probe, ledger: ledger,
                          prometheus: prometheus, guardThreshold: threshold)
    }

    /// The configuration the demo's controller runs with: the embedded defaults with demo timings.
    static func controllerConfig(redisURL: String) -> String {
        """
        # kubesim demo: the embedded defaults, with timings short enough for a two-minute story.
        namespace: \(namespace)
        redis:
          url: "\(redisURL)"
        pollInterval: 500ms
        webhook:
          format: json
          timeout: 2s
          retries: 1

        """
    }

    /// The BatchQueuePolicy `default` of the demo: the embedded defaults with timings short enough for the story.
    static let demoPolicy = """
        apiVersion: batchctl.dev/v1alpha1
        kind: BatchQueuePolicy
        metadata: {name: default}
        spec:
          rampUp: {step: 1, every: 3s}
          idleAfter: 5s
          busyWorkerGrace: 1m
          reminders: {orphanedEvery: 1m}
        """

    // MARK: Installing, through the API as kubectl apply would

    static func install(_ simulator: Simulator, paths: DemoPaths, redisURL: String, completions: String, guards: String = "") async throws {
        let crd = try read(paths.crd)
        try await create(simulator, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", yaml: crd)
        let list = "/apis/batchctl.dev/v1alpha1/namespaces/\(namespace)/batchqueues"
        let deadline = ContinuousClock.now + .seconds(10)
        while await simulator.handle(APIRequest(method: "GET", target: list), clientCertificateUser: admin).status != 200 {
            guard ContinuousClock.now < deadline else { throw DemoError.startFailed("KubeSim does not serve batchqueues after creating the CRD") }
            try await Task.sleep(for: .milliseconds(50))
        }
        try await create(simulator, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", yaml: try read(paths.policyCRD))
        let policies = "/apis/batchctl.dev/v1alpha1/namespaces/\(namespace)/batchqueuepolicies"
        while await simulator.handle(APIRequest(method: "GET", target: policies), clientCertificateUser: admin).status != 200 {
            guard ContinuousClock.now < deadline else { throw DemoError.startFailed("KubeSim does not serve batchqueuepolicies after creating the CRD") }
            try await Task.sleep(for: .milliseconds(50))
        }
        // deploy/'s params and admission policies; the demo's BatchQueuePolicy `default` (its short timings)
        // takes the place of deploy/'s.
        let documents: [DeployPolicies.Document]
        do { documents = try DeployPolicies.policyDocuments() } catch { throw DemoError.startFailed("\(error)") }
        for document in documents {
            guard let type = simulator.registry.all.first(where: { $0.apiVersion == document.apiVersion && $0.kind == document.kind }) else {
                throw DemoError.startFailed("KubeSim does not serve \(document.kind) (\(document.apiVersion)) from deploy/")
            }
            let prefix = type.group.isEmpty ? "/api/\(type.version)" : "/apis/\(type.group)/\(type.version)"
            let scope = type.namespaced ? "/namespaces/\(document.namespace.isEmpty ? namespace : document.namespace)" : ""
            try await create(simulator, prefix + scope + "/" + type.plural, yaml: document.kind == "BatchQueuePolicy" ? demoPolicy + "\n" + guards : document.yaml)
        }
        for document in try read(paths.batchQueues).components(separatedBy: "\n---\n") where document.contains("kind: BatchQueue") {
            try await create(simulator, list, yaml: document)
        }
        for queue in queues {
            let deployment = workerDeployment(queue: queue, paths: paths, redisURL: redisURL, completions: completions)
            try await create(simulator, "/apis/apps/v1/namespaces/\(namespace)/deployments", json: deployment)
        }
    }

    /// `celery-<queue>`: 0 replicas; each pod runs `celery worker -Q <queue>` (one process at a time, prefetch 1)
    /// with the demo's Celery app.
    static func workerDeployment(queue: String, paths: DemoPaths, redisURL: String, completions: String) -> JSONValue {
        let name = "celery-\(queue)"
        let command = "cd \(shellQuoted(paths.celeryApp)) && exec \(shellQuoted(paths.celery)) -A app worker -Q \(queue)"
            + " --hostname \"celery@$POD_NAME\" -P prefork -c 1 --prefetch-multiplier 1 --heartbeat-interval 2"
            + " --without-gossip --without-mingle -l info"
        let env: [String: String] = ["BROKER_URL": redisURL, "DEMO_COMPLETIONS": completions, "PYTHONPATH": paths.celeryApp,
                                     "PYTHONDONTWRITEBYTECODE": "1", "C_FORCE_ROOT": "1"]
        let labels: JSONValue = ["app.kubernetes.io/name": .string(name), "app.kubernetes.io/part-of": "batchctl-demo"]
        let variables: [JSONValue] = env.sorted { $0.key < $1.key }.map { ["name": .string($0.key), "value": .string($0.value)] }
        let container: JSONValue = ["name": "worker", "image": "celery-demo:local", "env": .array(variables)]
        let podSpec: JSONValue = ["terminationGracePeriodSeconds": 10, "containers": [container]]
        let template: JSONValue = [
            "metadata": ["labels": labels, "annotations": ["kubesim.batchctl.dev/command": .string(command)]],
            "spec": podSpec,
        ]
        let spec: JSONValue = [
            "replicas": 0, "selector": ["matchLabels": ["app.kubernetes.io/name": .string(name)]], "template": template,
        ]
        return ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": .string(name), "labels": labels], "spec": spec]
    }

    static func shellQuoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    private static func read(_ path: String) throws -> String {
        do { return try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw DemoError.missing("cannot read \(path): \(error)")
        }
    }

    private static func create(_ simulator: Simulator, _ path: String, yaml: String) async throws {
        try await send(simulator, APIRequest(method: "POST", target: path, headers: ["content-type": "application/yaml"], body: Array(yaml.utf8)))
    }

    private static func create(_ simulator: Simulator, _ path: String, json: JSONValue) async throws {
        try await send(simulator, APIRequest(method: "POST", target: path, headers: ["content-type": "application/json"], body: json.compactBytes))
    }

    private static func send(_ simulator: Simulator, _ request: APIRequest) async throws {
        let response = await simulator.handle(request, clientCertificateUser: admin)
        guard (200..<300).contains(response.status) else {
            throw DemoError.startFailed("KubeSim refused \(request.method) \(request.path) (\(response.status)): \(String(decoding: response.bytes, as: UTF8.self))")
        }
    }

    /// Waits (at most 60 s) until the controller has written a phase on every BatchQueue.
    static func waitForController(_ simulator: Simulator, controller: ChildProcess) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            try Interrupt.check()
            let phases = simulator.objects(group: "batchctl.dev", resource: "batchqueues", namespace: namespace)
                .compactMap { $0["status"]?["phase"]?.stringValue }.filter { $0 != "Unknown" }
            if phases.count == queues.count { return }
            guard ChildProcess.isAlive(controller.pid) else {
                throw DemoError.startFailed("batchctl controller exited:\n\(controller.stderr.suffix(2000))")
            }
            guard ContinuousClock.now < deadline else {
                throw DemoError.timedOut(what: "The controller's first report on every queue", seconds: 60,
                                         hint: "Its log is \(controller.stderrPath).")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
