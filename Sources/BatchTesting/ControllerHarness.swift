import Foundation
import LocalProcesses
import MemberwiseInit

/// The whole system for integration tests: a real redis-server, KubeSim with the project's CRD, the
/// four BatchQueues and their worker Deployments, and `batchctl controller` processes with short
/// timings. Everything runs on loopback and is stopped by pid.
public final class ControllerHarness: @unchecked Sendable {
    public let redis: RedisServer
    public let sim: KubeSimServer
    public let directory: TemporaryDirectory
    public let configPath: String
    /// The BatchQueuePolicy `default` applied at start (the rules given in `config`).
    public let policyPath: String
    public let namespace = "court-listener"
    public private(set) var controllers: [ChildProcess] = []
    let queueCount: Int?
    public private(set) var metricsPorts: [Int] = []
    public var celery: CeleryFixture {
        broker.map { CeleryFixture(brokerURL: $0.brokerURL, transportOptions: $0.transportOptions, acksLate: workers?.acksLate ?? false) }
            ?? CeleryFixture(brokerURL: redis.url, transportOptions: workers?.transportOptions ?? "{}", acksLate: workers?.acksLate ?? false)
    }
    /// Celery's broker when it is not `redis` (Redis behind Sentinel: a sentinel:// URL and master_name).
    let broker: CeleryFixture?
    /// How worker pods run, when they run real Celery workers (see `CeleryWorkers`).
    public let workers: CeleryWorkers?

    /// Worker Deployments whose pods KubeSim's kubelet runs as real `celery worker` processes:
    /// `celery -A app worker -Q batchN --hostname celery@$POD_NAME -c 1 --prefetch-multiplier 1`
    /// (prefork pool, heartbeats every 2 s), with the fixture app's PYTHONPATH and broker environment.
    @MemberwiseInit(.public)
    public struct CeleryWorkers: Sendable {
        /// The pod template's `terminationGracePeriodSeconds`: how long a warm shutdown may take before SIGKILL.
        public var terminationGracePeriodSeconds: Int = 30
        /// Sets `task_acks_late=True` in the workers (and in `celery` producers).
        public var acksLate: Bool = false
        /// `broker_transport_options` as JSON for workers and producers (e.g. `{"visibility_timeout": 30}`).
        public var transportOptions: String = "{}"
        /// `--prefetch-multiplier`.
        public var prefetchMultiplier: Int = 1
    }

    /// - Parameters:
    ///   - config: YAML appended to the test configuration (namespace, Redis URL, poll 200ms,
    ///     ramp 2 per 2s, idle after 3s are set already; later keys win). Keys of the BatchQueuePolicy go into the
    ///     BatchQueuePolicy `default` instead, as an admin would set them.
    ///   - kubelet: run worker Deployments as local processes (their command from the annotation).
    ///   - extraUsers: more KubeSim users (name, groups), such as a claim race's.
    ///   - queueCount: more (or fewer) queues than the four of deploy/: `q0..q<n-1>` with Deployments
    ///     `celery-q0..`, generated as BatchQueues (for benchmarks).
    ///   - workers: give the worker Deployments a command that runs a real Celery worker per pod (implies `kubelet`).
    ///   - broker: Celery's broker for workers and producers when it is not `redis` (for Redis behind
    ///     Sentinel: `brokerURL` sentinel://..., `transportOptions` with master_name; give the controller the
    ///     same through `config`).
    ///
    /// KubeSim enforces what deploy/ installs (`DeployPolicies`: its RBAC, users in its groups, its admission
    /// policies with the BatchQueuePolicy `default` as their param), as a cluster would.
    public init(config: String = "", kubelet: Bool = false, simArguments: [String] = [],
                extraUsers: [(name: String, groups: [String])] = [], queueCount: Int? = nil, workers: CeleryWorkers? = nil,
                broker: CeleryFixture? = nil) throws {
        self.queueCount = queueCount
        self.broker = broker
        self.workers = workers
        redis = try RedisServer()
        directory = try TemporaryDirectory(prefix: "harness")
        sim = try KubeSimServer.start(kubelet: kubelet || workers != nil, extraArguments: simArguments,
                                      deployPolicies: true, extraUsers: extraUsers)
        configPath = directory.path + "/batchctl.yaml"
        policyPath = directory.path + "/policy.yaml"
        // Test timings; a top-level key in `config` replaces the default line for it. Keys of the BatchQueuePolicy
        // (rampUp, idleAfter, ...) go into the BatchQueuePolicy `default` applied with the CRDs, the rest into the file.
        let defaults = ["namespace: court-listener", "redis: {url: \"\(redis.url)\"}", "pollInterval: 200ms",
                        "rampUp: {step: 2, every: 2s}", "idleAfter: 3s"]
        var config = config
        if let queueCount { config += "\ntotalReplicaBudget: \(max(40, queueCount * 5))" }
        let blocks = Self.topLevelBlocks(defaults.joined(separator: "\n")) + Self.topLevelBlocks(config)
        var chosen: [(key: String, text: String)] = []
        for block in blocks {   // later keys win, in the place of the first
            if let i = chosen.firstIndex(where: { $0.key == block.key }) { chosen[i] = block } else { chosen.append(block) }
        }
        let isPolicy = { (key: String) in Self.policyKeys.contains(key) }
        let yaml = chosen.filter { !isPolicy($0.key) }.map(\.text).joined(separator: "\n") + "\n"
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        let spec = chosen.filter { isPolicy($0.key) }.map { block in
            block.text.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
        }
        try (Self.policyHeader + (spec.isEmpty ? "spec: {}\n" : "spec:\n" + spec.joined(separator: "\n") + "\n"))
            .write(toFile: policyPath, atomically: true, encoding: .utf8)
        try install()
    }

    /// The keys of a BatchQueuePolicy spec (BatchCore's `QueuePolicy.keys`; BatchTesting does not depend on BatchCore).
    static let policyKeys: Set<String> = ["bands", "rampUp", "idleAfter", "totalReplicaBudget", "busyWorkerGrace", "guards",
                                          "reservations", "reminders", "queueDepth", "claimOrder"]

    /// The start of the BatchQueuePolicy `default` the harness applies.
    static let policyHeader = "apiVersion: batchctl.dev/v1alpha1\nkind: BatchQueuePolicy\nmetadata: {name: default}\n"

    /// `text` cut into top-level YAML entries: a line starting with a letter starts one, other lines belong to it.
    static func topLevelBlocks(_ text: String) -> [(key: String, text: String)] {
        var blocks: [(key: String, text: String)] = []
        for line in text.split(separator: "\n") {
            if line.first?.isLetter == true, let key = line.split(separator: ":").first {
                blocks.append((String(key), String(line)))
            } else if !blocks.isEmpty, !line.trimmingCharacters(in: .whitespaces).isEmpty {
                blocks[blocks.count - 1].text += "\n" + line
            }
        }
        return blocks
    }

    /// The BatchQueuePolicy `default` with the test's rules (over deploy/'s, which `DeployPolicies.install`
    /// applied with the CRDs and admission policies), the four BatchQueues, and celery-batch0..3 at 0 replicas.
    func install() throws {
        try sim.kubectlOK(["apply", "--validate=false", "-n", namespace, "-f", policyPath])
        let names = queueCount.map { n in (0..<n).map { "q\($0)" } } ?? (0..<4).map { "batch\($0)" }
        if queueCount == nil {
            try sim.kubectlOK(["apply", "--validate=false", "-n", namespace, "-f", ProjectPaths.root + "/deploy/base/batchqueues.yaml"])
        } else {
            let queues = names.map { """
                ---
                apiVersion: batchctl.dev/v1alpha1
                kind: BatchQueue
                metadata: {name: \($0)}
                spec: {queue: \($0), deployment: celery-\($0), maxReplicas: 20}

                """ }.joined()
            let path = directory.path + "/queues.yaml"
            try queues.write(toFile: path, atomically: true, encoding: .utf8)
            try sim.kubectlOK(["apply", "--validate=false", "-n", namespace, "-f", path])
        }
        var deployments = ""
        for name in names {
            if let workers {
                deployments += "---\n" + (try celeryDeployment("celery-\(name)", queue: name, workers)) + "\n"
                continue
            }
            deployments += """
                ---
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: celery-\(name)}
                spec:
                  replicas: 0
                  selector: {matchLabels: {app.kubernetes.io/name: celery-\(name)}}
                  template:
                    metadata:
                      labels: {app.kubernetes.io/name: celery-\(name)}
                    spec:
                      terminationGracePeriodSeconds: 30
                      containers: [{name: worker, image: celery-app:test}]

                """
        }
        let path = directory.path + "/deployments.yaml"
        try deployments.write(toFile: path, atomically: true, encoding: .utf8)
        try sim.kubectlOK(["apply", "--validate=false", "-n", namespace, "-f", path])
    }

    /// The controller's ServiceAccount as the API server names it.
    public static let serviceAccount = DeployPolicies.controllerServiceAccount

    /// A worker Deployment (as JSON, which kubectl reads as YAML) whose pods run `celery worker` for `queue`.
    func celeryDeployment(_ name: String, queue: String, _ workers: CeleryWorkers) throws -> String {
        let command = "exec '\(ProjectPaths.venvBin)/celery' -A app worker -Q \(queue) --hostname \"celery@$POD_NAME\" "
            + "-P prefork -c 1 --prefetch-multiplier \(workers.prefetchMultiplier) --heartbeat-interval 2 --without-gossip --without-mingle -l info"
        let env = celery.environment.sorted { $0.key < $1.key }.map { #"{"name": \#(jsonString($0.key)), "value": \#(jsonString($0.value))}"# }
        let labels = #"{"app.kubernetes.io/name": \#(jsonString(name))}"#
        let run = jsonString("cd '\(CeleryFixture.directory)' && \(command)")
        return """
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": \(jsonString(name))},
             "spec": {"replicas": 0, "selector": {"matchLabels": \(labels)},
              "template": {"metadata": {"labels": \(labels), "annotations": {"kubesim.batchctl.dev/command": \(run)}},
               "spec": {"terminationGracePeriodSeconds": \(workers.terminationGracePeriodSeconds),
                "containers": [{"name": "worker", "image": "celery-app:test", "env": [\(env.joined(separator: ", "))]}]}}}}
            """
    }

    /// Names of the running pods of a Deployment (matched by its `app.kubernetes.io/name` label).
    public func pods(_ deployment: String) -> [String] {
        guard let r = try? sim.kubectl(["get", "pods", "-n", namespace, "-l", "app.kubernetes.io/name=\(deployment)",
                                        "-o", "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}"]), r.status == 0 else { return [] }
        return r.stdout.split(separator: "\n").map(String.init)
    }

    /// Sends SIGKILL to every process of pod `pod` (found by `POD_NAME=<pod>` in its environment: the
    /// kubelet's children), as the kernel's OOM killer would; returns how many were signalled.
    @discardableResult
    public func killPod(_ pod: String) -> Int {
        let needle = Array("POD_NAME=\(pod)".utf8)
        var killed = 0
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), pid != getpid(),
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/environ") else { continue }
            if data.split(separator: 0).contains(where: { Array($0) == needle }) && kill(pid, SIGKILL) == 0 { killed += 1 }
        }
        return killed
    }

    /// Starts one `batchctl controller` and waits until it serves /readyz.
    /// - Parameters:
    ///   - asServiceAccount: as the controller's service account, with deploy/'s RBAC and admission policies (the
    ///     default); nil: the service account, except with `queueCount` (deploy/'s Role names the four worker
    ///     Deployments, not generated ones), where the controller runs as `admin`.
    ///   - environment: added to the child's environment (such as `BATCHCTL_WEBHOOK_URL`).
    ///   - waitUntilReady: false returns as soon as the process is started (to kill it at any moment of its life).
    @discardableResult
    public func startController(arguments: [String] = [], asServiceAccount: Bool? = nil,
                                environment: [String: String] = [:], waitUntilReady: Bool = true) throws -> ChildProcess {
        let port = try FreePort.next()
        let n = controllers.count
        let asServiceAccount = asServiceAccount ?? (queueCount == nil)
        let child = try ChildProcess(
            name: "controller-\(n)", executable: ProjectPaths.product("batchctl"),
            arguments: ["controller", "--config", configPath, "--kubeconfig", sim.kubeconfigPath,
                        "--context", asServiceAccount ? Self.serviceAccount : "admin",
                        "--metrics-addr", "127.0.0.1:\(port)"] + arguments,
            environment: environment.merging(["POD_NAME": "controller-\(n)"]) { $1 }, logDirectory: directory.path)
        controllers.append(child)
        metricsPorts.append(port)
        guard waitUntilReady else { return child }
        guard Wait.until(timeout: .seconds(30), { !child.isRunning || (try? HTTPGet.text("http://127.0.0.1:\(port)/readyz", timeout: .seconds(2)).status) == 200 }),
              child.isRunning else {
            throw SupportError("batchctl controller did not become ready: \(child.stderr)")
        }
        return child
    }

    /// `/metrics` of controller `index`.
    public func metrics(_ index: Int = 0) throws -> String {
        try HTTPGet.text("http://127.0.0.1:\(metricsPorts[index])/metrics", timeout: .seconds(5)).body
    }

    /// The value of the metric line that starts with `prefix` (such as `batchctl_reconcile_total{result="ok"}`).
    public func metric(_ prefix: String, controller index: Int = 0) -> Double? {
        guard let text = try? metrics(index) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(prefix + " ") {
            return Double(line.split(separator: " ").last ?? "")
        }
        return nil
    }

    // MARK: The cluster as users and tests see it

    /// `spec.replicas` of a Deployment.
    public func replicas(_ deployment: String) -> Int? {
        guard let r = try? sim.kubectl(["get", "deployment", deployment, "-n", namespace, "-o", "jsonpath={.spec.replicas}"]), r.status == 0 else { return nil }
        return Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Claims `queue` for `holder` (an admin write of spec.reservation, as `batchctl claim` would make; `admin`
    /// is in `batchctl:admins`, which the admission policy lets claim for anyone).
    public func claim(_ queue: String, holder: String = "alice", replicas: Int, expiresIn seconds: Int = 3 * 86_400) throws {
        let now = Date()
        let f = ISO8601DateFormatter()
        let patch = """
            {"spec":{"reservation":{"holder":"\(holder)","reason":"test","claimedAt":"\(f.string(from: now))",\
            "expiresAt":"\(f.string(from: now.addingTimeInterval(TimeInterval(seconds))))","replicas":\(replicas)}}}
            """
        try sim.kubectlOK(["patch", "batchqueue", queue, "-n", namespace, "--type", "merge", "-p", patch])
    }

    public func release(_ queue: String) throws {
        try sim.kubectlOK(["patch", "batchqueue", queue, "-n", namespace, "--type", "merge", "-p", #"{"spec":{"reservation":null}}"#])
    }

    /// The replica counts written to a Deployment's /scale, in order, from KubeSim's request log.
    public func scaleWrites(_ deployment: String) throws -> [Int] {
        try timedScaleWrites(deployment).map(\.replicas)
    }

    /// The replica counts written to a Deployment's /scale, in order, with the time KubeSim received each write.
    public func timedScaleWrites(_ deployment: String) throws -> [(time: Date, replicas: Int)] {
        struct Scale: Decodable {
            struct Spec: Decodable { var replicas: Int? }
            var spec: Spec
        }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return try sim.requests().filter { $0.isWrite && $0.path.hasSuffix("/deployments/\(deployment)/scale") && $0.status < 300 }.compactMap { r in
            guard let body = r.body, let scale = try? JSONDecoder().decode(Scale.self, from: Data(body.utf8)),
                  let time = fractional.date(from: r.time) else { return nil }
            return (time, scale.spec.replicas ?? 0)
        }
    }

    /// Reasons of the Events recorded on a BatchQueue, oldest first.
    public func eventReasons(_ queue: String) throws -> [String] {
        let r = try sim.kubectl(["get", "events", "-n", namespace, "--field-selector", "involvedObject.name=\(queue)",
                                 "--sort-by", ".metadata.creationTimestamp", "-o", "jsonpath={range .items[*]}{.reason}{\"\\n\"}{end}"])
        return r.stdout.split(separator: "\n").map(String.init)
    }

    /// The current leader Lease holder.
    public func leaseHolder() -> String? {
        guard let r = try? sim.kubectl(["get", "lease", "batchctl-controller", "-n", namespace, "-o", "jsonpath={.spec.holderIdentity}"]),
              r.status == 0 else { return nil }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Stops every controller, KubeSim and Redis.
    public func stop() {
        for c in controllers { c.stop(grace: .seconds(10)) }
        sim.stop()
        redis.stop()
    }

    deinit { stop() }
}

extension KubeSimServer {
    /// Runs kubectl as admin and throws unless it exits 0.
    public func kubectlOK(_ arguments: [String]) throws {
        let r = try kubectl(arguments)
        guard r.status == 0 else { throw SupportError("kubectl \(arguments.joined(separator: " ")) failed: \(r.stderr)") }
    }
}
