import BatchTesting
import Foundation
import LocalProcesses
import Testing

/// Issue 18, acceptance 2: `batchctl probe` and the controller assign busy workers to Deployments by one rule
/// (`WorkerPods`: the worker's hostname is `celery@<pod>`, and the Deployment's selector selects that pod), so
/// for the same Redis and pods they report the same busy workers per queue.
@Suite(.serialized, .enabled(if: CeleryFixture.isAvailable, "needs the venv: make venv"))
struct BusyWorkerMappingTests {
    /// Pods made by hand, whose names and labels disagree on purpose: a name-prefix rule would count
    /// `celery-batch1-7d9f8c6b5-bbbbb` for batch1 and `celery-batch3-7d9f8c6b5-ccccc` for batch3, and
    /// `worker-x` for nothing; the selectors say batch2, nothing and batch0.
    static let pods: [(name: String, deployment: String?, active: Int)] = [
        ("celery-batch1-7d9f8c6b5-aaaaa", "celery-batch1", 1),
        ("celery-batch1-7d9f8c6b5-idle0", "celery-batch1", 0),
        ("celery-batch1-7d9f8c6b5-bbbbb", "celery-batch2", 1),
        ("worker-x", "celery-batch0", 1),
        ("celery-batch3-7d9f8c6b5-ccccc", nil, 1),
    ]

    @Test("probe -o json and the controller count the same busy workers per queue, by pod labels, not pod names")
    func probeAndControllerAgree() throws {
        let h = try ControllerHarness()
        defer { h.stop() }
        let manifests = Self.pods.map { pod in
            let labels = pod.deployment.map { "{app.kubernetes.io/name: \($0)}" } ?? "{role: stray}"
            return """
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: \(pod.name), labels: \(labels)}
                spec: {containers: [{name: worker, image: celery-app:test}]}

                """
        }.joined()
        let path = h.directory.path + "/pods.yaml"
        try manifests.write(toFile: path, atomically: true, encoding: .utf8)
        try h.sim.kubectlOK(["apply", "--validate=false", "-n", h.namespace, "-f", path])
        try h.startController()

        // Heartbeats reach only who listens when they are sent: keep sending (freq 30 s keeps them fresh for
        // 60 s) until the probe, listening for 6 s, has printed its report.
        let heartbeats = "[" + Self.pods.map { pod in
            #"{"hostname": "celery@\#(pod.name)", "fields": {"active": \#(pod.active), "freq": 30}}"#
        }.joined(separator: ", ") + "]"
        let probe = try ChildProcess(name: "probe", executable: ProjectPaths.product("batchctl"),
                                     arguments: ["probe", "--config", h.configPath, "--kubeconfig", h.sim.kubeconfigPath,
                                                 "--context", "admin", "-n", h.namespace, "-o", "json", "--listen", "6s"],
                                     environment: ["BATCHCTL_CONFIG": ""], logDirectory: h.directory.path)
        defer { probe.stop() }
        for _ in 0..<60 where probe.isRunning {
            #expect(try h.celery.sendWorkerEvents(heartbeats) == Self.pods.count)
        }
        #expect(probe.waitForExit(timeout: .seconds(60)) == 0, "\(probe.stderr)")
        let report = try ProbeView.parse(probe.stdout)
        let probed = Dictionary(uniqueKeysWithValues: report.queues.map { ($0.name, $0.busyWorkers) })
        #expect(probed == ["batch0": 1, "batch1": 1, "batch2": 1, "batch3": 0])
        let owners = Dictionary(uniqueKeysWithValues: (report.workers ?? []).map { ($0.hostname, $0.deployment) })
        for pod in Self.pods { #expect(owners["celery@\(pod.name)"] == .some(pod.deployment), "\(pod.name)") }

        let queues = ["batch0", "batch1", "batch2", "batch3"]
        var controller: [String: Int?] = [:]
        let agreed = Wait.until(timeout: .seconds(60), interval: .milliseconds(250)) {
            controller = Dictionary(uniqueKeysWithValues: queues.map { ($0, h.busyWorkers($0)) })
            return controller == probed
        }
        #expect(agreed, "controller: \(controller), probe: \(probed)")
    }
}
