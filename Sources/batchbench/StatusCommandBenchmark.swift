import BatchTesting
import Foundation

/// `batchctl status` against `kubectl get bq`, end to end as a user runs them (spawn to exit), on the
/// same KubeSim with the four BatchQueues of deploy/, the same kubeconfig and context, interleaved.
struct StatusCommandBenchmark: Benchmark {
    let name = "status"
    let summary = "`batchctl status` against `kubectl get bq`, spawn to exit, same KubeSim (under a minute)"
    var runs = 30

    func run() async throws -> [Figure] {
        let h = try ControllerHarness(config: "pollInterval: 1s")
        defer { h.stop() }
        // A controller fills in the statuses (what both commands show), then stops so it adds no load.
        let controller = try h.startController()
        guard Wait.until(timeout: .seconds(60), { (0..<4).allSatisfy { h.phase("batch\($0)") == "Free" } }) else {
            throw BenchError("the queues did not get a status")
        }
        controller.stop(grace: .seconds(10))

        let kubectl = Self.kubectlPath()
        let version = try Command.run(kubectl, ["version", "--client"]).stdout
            .split(separator: "\n").first { $0.hasPrefix("Client Version:") }?
            .dropFirst("Client Version:".count).trimmingCharacters(in: .whitespaces) ?? "unknown"
        let home = try TemporaryDirectory(prefix: "status-bench")
        let environment = ["HOME": home.path, "KUBECONFIG": "", "BATCHCTL_CONFIG": "", "NO_COLOR": "1"]
        let cluster = ["--kubeconfig", h.sim.kubeconfigPath, "--context", "alice", "-n", h.namespace]
        let batchctl = (ProjectPaths.product("batchctl"), ["status"] + cluster)
        let kubectlGet = (kubectl, ["get", "bq", "--cache-dir", home.path + "/kubectl-cache"] + cluster)

        // Warm-up, which also checks both print the four queues (and fills kubectl's discovery cache).
        for (exe, arguments) in [batchctl, kubectlGet] {
            let output = home.path + "/output"
            for _ in 0..<3 {
                let r = try TimedCommand.run(exe, arguments, environment: environment, output: output)
                let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
                guard r.status == 0, (0..<4).allSatisfy({ text.contains("batch\($0)") }) else {
                    throw BenchError("\(exe) \(arguments.joined(separator: " ")) failed (exit \(r.status)): \(text)")
                }
            }
        }
        var ours: [Duration] = [], theirs: [Duration] = []
        for i in 0..<(2 * runs) {
            // Interleaved: batchctl, kubectl, batchctl, ...
            let first = i % 2 == 0
            let (exe, arguments) = first ? batchctl : kubectlGet
            let r = try TimedCommand.run(exe, arguments, environment: environment)
            guard r.status == 0 else { throw BenchError("\(exe) exited \(r.status)") }
            if first { ours.append(r.elapsed) } else { theirs.append(r.elapsed) }
        }
        let a = try Percentiles(ours), b = try Percentiles(theirs)
        let ratio = a.median.seconds / b.median.seconds
        let common = "spawn to exit, same KubeSim, kubeconfig, context and 4 BatchQueues, runs interleaved"
        let ratioText = String(format: "%.2f", ratio)
        print("batchctl status: median \(a.median.milliseconds), kubectl get bq (\(version)): median \(b.median.milliseconds), ratio \(ratioText)")
        return [
            Figure(name: "`batchctl status`, 4 queues", median: a.median, p90: a.p90, runs: ours.count,
                   notes: "release build, static Swift stdlib; \(common); \(ratioText) × kubectl's median in the same run"),
            Figure(name: "`kubectl get bq`, 4 queues", median: b.median, p90: b.p90, runs: theirs.count,
                   notes: "kubectl \(version) (\(kubectl.replacingOccurrences(of: ProjectPaths.root + "/", with: ""))), discovery cache warm; \(common)"),
            Figure(name: "`batchctl status` ÷ `kubectl get bq` (medians, same run)", medianText: ratioText, p90Text: "–", runs: min(ours.count, theirs.count),
                   notes: "below 1: batchctl is faster"),
        ]
    }

    /// The project's kubectl release binary when `make deps` installed it, else the one on PATH.
    static func kubectlPath() -> String {
        let venv = ProjectPaths.root + "/.venv-tools/bin/kubectl"
        if FileManager.default.isExecutableFile(atPath: venv) { return venv }
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
        return path.map { "\($0)/kubectl" }.first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/kubectl"
    }
}
