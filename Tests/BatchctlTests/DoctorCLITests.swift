import BatchTesting
import Foundation
import Testing

/// `batchctl doctor` end to end: the built binary against a real redis-server, real Celery workers and KubeSim.
@Suite(.serialized, .enabled(if: CeleryFixture.isAvailable, "needs the venv: make venv"))
struct DoctorCLITests {
    /// A worker Deployment for `queue`'s BatchQueue, consuming `consumes`, with `grace` seconds to stop.
    static func deployment(_ name: String, consumes: String, grace: Int) -> String {
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: \(name)
        spec:
          replicas: 0
          selector:
            matchLabels: {app: \(name)}
          template:
            metadata:
              labels: {app: \(name)}
            spec:
              terminationGracePeriodSeconds: \(grace)
              containers:
              - name: worker
                image: court-listener:latest
                command: ["celery", "-A", "cl", "worker", "-Q", "\(consumes)", "--hostname", "celery@$(POD_NAME)"]
                env:
                - name: POD_NAME
                  valueFrom: {fieldRef: {fieldPath: metadata.name}}
        """
    }

    func apply(_ f: ClusterFixture, _ yaml: String) throws {
        let r = try f.sim.kubectl(["apply", "--validate=false", "-n", ClusterFixture.namespace, "-f", "-"], stdin: yaml)
        #expect(r.status == 0, "kubectl apply: \(r.stderr)")
    }

    /// One check of `batchctl doctor -o json`.
    struct Check: Decodable {
        var check: String
        var status: String?
        var detail: String?
        var fix: String?
    }

    static func checks(_ stdout: String) throws -> [String: Check] {
        struct Report: Decodable { var checks: [Check] }
        let list = try JSONDecoder().decode(Report.self, from: Data(stdout.utf8)).checks
        return Dictionary(list.map { ($0.check, $0) }, uniquingKeysWith: { a, _ in a })
    }

    @Test func findsEvictionWrongQueueUnmappedHostnamesAndAShortGracePeriodThenPassesWhenFixed() throws {
        let server = try RedisServer(extraArguments: ["--maxmemory-policy", "allkeys-lru"])
        let f = try ClusterFixture()
        try apply(f, Self.deployment("celery-batch1", consumes: "batch9", grace: 3))
        // The pod the second worker is named after, as celery-batch1's ReplicaSet would make it (no kubelet here):
        // doctor maps heartbeats to Deployments by the controller's rule, celery@<pod> and the pod's labels.
        try apply(f, """
            apiVersion: v1
            kind: Pod
            metadata:
              name: celery-batch1-6f7c9d8b5-dr001
              labels: {app: celery-batch1}
            spec:
              containers:
              - name: worker
                image: court-listener:latest
            """)
        let logs = try TemporaryDirectory(prefix: "doctor")
        let celery = CeleryFixture(brokerURL: server.url)
        // One worker named as on a laptop (not celery@<pod>), one named as a pod of celery-batch1.
        let laptop = try celery.startWorker(queues: ["batch0"], hostname: "celery@laptop", heartbeatInterval: 1, logDirectory: logs.path)
        defer { laptop.stop(grace: .seconds(10)) }
        let pod = "celery@celery-batch1-6f7c9d8b5-dr001"
        let podWorker = try celery.startWorker(queues: ["batch1"], hostname: pod, heartbeatInterval: 1, logDirectory: logs.path)
        defer { podWorker.stop(grace: .seconds(20)) }
        let env = f.environment
        let online = Wait.until(timeout: .seconds(120), interval: .milliseconds(500)) {
            let r = try? Command.run(ClusterFixture.batchctl, ["probe", "--redis-url", server.url, "--listen", "1500ms", "-o", "json"], environment: env)
            return (r?.stdout.contains("celery@laptop") ?? false) && (r?.stdout.contains(pod) ?? false)
        }
        try #require(online, "workers did not come online: \(laptop.stderr) \(podWorker.stderr)")

        // A 10 s task, seen running in the pod worker's heartbeats while doctor listens.
        _ = try celery.produce(#"[{"queue": "batch1", "count": 1, "task": "fixture.sleep", "args": [10]}]"#)
        // As the operator (cluster admin): under deploy/'s RBAC, batchctl:users may not read Deployments (the test below).
        let r = try f.batchctl(["doctor", "batch1", "-o", "json", "--redis-url", server.url, "--listen", "8s"], as: "admin")
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.hasSuffix("error: 2 checks failed: redis eviction, celery-batch1 -Q\n"), "\(r.stderr)")
        let checks = try Self.checks(r.stdout)
        #expect(checks["redis eviction"]?.status == "fail")
        #expect((checks["redis eviction"]?.detail)?.contains("allkeys-lru") == true)
        #expect((checks["redis eviction"]?.fix)?.contains("noeviction") == true)
        #expect(checks["worker hostnames"]?.status == "warn")
        #expect((checks["worker hostnames"]?.detail)?.hasPrefix("celery@laptop maps to no queue's Deployment") == true, "\(r.stdout)")
        #expect(checks["celery-batch1 grace period"]?.status == "warn", "\(r.stdout)")
        #expect((checks["celery-batch1 grace period"]?.detail)?.contains("terminationGracePeriodSeconds 3") == true)
        #expect(checks["celery-batch1 -Q"]?.status == "fail")
        #expect(checks["celery-batch1 -Q"]?.detail == "consumes batch9, but its BatchQueue's spec.queue is batch1")
        #expect(checks["celery-batch1 autoscalers"]?.status == "ok")
        #expect(checks["your access"]?.status == "skip")

        // Fixed: noeviction, -Q batch1, a long grace period. Warnings (no maxmemory, the laptop worker) do not fail.
        _ = try server.cli(["CONFIG", "SET", "maxmemory-policy", "noeviction"])
        try apply(f, Self.deployment("celery-batch1", consumes: "batch1", grace: 600))
        let fixed = try f.batchctl(["doctor", "batch1", "--redis-url", server.url, "--listen", "0s"], as: "admin")
        #expect(fixed.status == 0, "\(fixed.stdout) \(fixed.stderr)")
        #expect(fixed.stdout.hasPrefix("STATUS  CHECK"), "\(fixed.stdout)")
        #expect(fixed.stdout.contains("ok      celery-batch1 -Q"), "\(fixed.stdout)")

        // The cluster options before the subcommand give the same report.
        let before = try Command.run(ClusterFixture.batchctl, f.flags("admin") + ["doctor", "batch1", "--redis-url", server.url, "--listen", "0s"],
                                     environment: f.environment)
        #expect(before.status == 0 && before.stdout == fixed.stdout, "\(before.stdout) \(before.stderr)")
    }

    @Test func aQueueWhoseDeploymentIsMissingFails() throws {
        let server = try RedisServer()
        let f = try ClusterFixture()
        let r = try f.batchctl(["doctor", "batch2", "-o", "json", "--redis-url", server.url, "--listen", "0s"], as: "admin")
        #expect(r.status == 1, "\(r.stderr)")
        let checks = try Self.checks(r.stdout)
        #expect(checks["celery-batch2 Deployment"]?.status == "fail")
        #expect((checks["celery-batch2 Deployment"]?.detail)?.contains("does not exist") == true)
    }

    @Test func whatTheCallerMayNotReadIsSkippedNotFatal() throws {
        let server = try RedisServer()
        let f = try ClusterFixture()   // deploy/'s RBAC: alice (batchctl:users) may not read Deployments
        let r = try f.batchctl(["doctor", "batch1", "-o", "json", "--redis-url", server.url, "--listen", "0s"], as: "alice")
        #expect(r.status == 0, "\(r.stderr)")
        let checks = try Self.checks(r.stdout)
        #expect(checks["celery-batch1 Deployment"]?.status == "skip", "\(r.stdout)")
        #expect((checks["celery-batch1 Deployment"]?.detail)?.contains("you may not get deployments") == true)
        #expect(checks["redis eviction"]?.status == "ok")
        #expect(checks["your access"]?.status == "skip")
    }

    @Test func anUnknownQueueIsBadInput() throws {
        let server = try RedisServer()
        let f = try ClusterFixture()
        let r = try f.batchctl(["doctor", "batch77", "--redis-url", server.url, "--listen", "0s"])
        #expect(r.status == 2, "\(r.stderr)")
    }
}
