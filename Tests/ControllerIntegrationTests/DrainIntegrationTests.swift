import BatchTesting
import Foundation
import Testing

/// Issue 20 end to end: KubeSim's kubelet runs real Celery workers (concurrency 1, heartbeat every 2 s), the
/// built `batchctl controller` scales them and keeps the usage ledger in the BatchQueue's status, and the user's
/// `batchctl drain` / `claim --release-when-done` / `history` read only the BatchQueue. Pod lifetimes for the
/// ledger's reference come from a watch on KubeSim's pods (Tests/Fixtures/pod_lifetimes.py: container
/// `startedAt`, and the time the DELETED event arrived). Every wait is bounded by a condition.
@Suite(.serialized, .enabled(if: CeleryFixture.isAvailable, "needs the venv: make venv"))
struct DrainIntegrationTests {
    /// `batchctl ARGS` as `user` against the harness's KubeSim (no configuration file).
    func batchctl(_ h: ControllerHarness, _ arguments: [String], as user: String = "alice", timeout: Duration = .seconds(60)) throws -> CommandResult {
        try Command.run(ProjectPaths.product("batchctl"), arguments + ["--kubeconfig", h.sim.kubeconfigPath, "--context", user, "-n", h.namespace],
                        environment: ["BATCHCTL_CONFIG": "", "HOME": h.sim.directory, "NO_COLOR": "", "COLUMNS": "200"], timeout: timeout)
    }

    /// The BatchQueue as stored, as raw JSON (the ledger's wire format is what these tests check).
    static func rawQueue(_ h: ControllerHarness, _ queue: String) -> [String: Any]? {
        guard let r = try? h.sim.kubectl(["get", "batchqueue", queue, "-n", h.namespace, "-o", "json"]), r.status == 0 else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any]
    }

    /// `status.usage` of a queue, as stored.
    func usage(_ h: ControllerHarness, _ queue: String) -> [String: Any]? {
        (Self.rawQueue(h, queue)?["status"] as? [String: Any])?["usage"] as? [String: Any]
    }

    func history(_ h: ControllerHarness, _ queue: String) -> [[String: Any]] {
        usage(h, queue)?["history"] as? [[String: Any]] ?? []
    }

    static func seconds(_ claim: [String: Any]) -> Double {
        ((claim["busyReplicaSeconds"] as? NSNumber)?.doubleValue ?? 0) + ((claim["idleReplicaSeconds"] as? NSNumber)?.doubleValue ?? 0)
    }

    /// Watches the harness's pods (see pod_lifetimes.py); stop it when done.
    func podWatcher(_ h: ControllerHarness) throws -> ChildProcess {
        try ChildProcess(name: "pod-lifetimes", executable: ProjectPaths.venvPython,
                         arguments: [ProjectPaths.fixtures + "/pod_lifetimes.py", h.sim.url, h.sim.caPath, h.sim.token(for: "admin"), h.namespace],
                         logDirectory: h.directory.path)
    }

    /// Σ over `deployment`'s pods that were deleted of (deletion seen − container startedAt), in seconds.
    static func podSeconds(_ watcher: ChildProcess, deployment: String) -> (seconds: Double, pods: Int) {
        var started: [String: Double] = [:]
        var deleted: [String: Double] = [:]
        let f = ISO8601DateFormatter()
        for line in watcher.stdout.split(separator: "\n") {
            guard let e = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let name = e["name"] as? String, name.hasPrefix(deployment + "-"), let t = e["t"] as? Double else { continue }
            if let s = e["startedAt"] as? String, let d = f.date(from: s), started[name] == nil { started[name] = d.timeIntervalSince1970 }
            if e["type"] as? String == "DELETED" { deleted[name] = t }
        }
        let spans = deleted.compactMap { name, end in started[name].map { end - $0 } }
        return (spans.reduce(0, +), spans.count)
    }

    @Test("200 tasks: 'drain --release', piped, prints a line per change up to 200 done, exits 0, the queue is Free; the ledger matches the pods' lifetimes within 5 % and counts 200 tasks")
    func drainReleasePipedAndLedgerAccuracy() throws {
        let h = try ControllerHarness(workers: .init(terminationGracePeriodSeconds: 10))
        defer { h.stop() }
        let watcher = try podWatcher(h)
        defer { watcher.stop(grace: .seconds(1)) }
        try h.startController()
        #expect(try h.celery.produce(#"[{"queue": "batch1", "count": 200, "task": "fixture.sleep", "args": [0.05]}]"#) == 200)
        let claim = try batchctl(h, ["claim", "batch1", "--replicas", "2"])
        #expect(claim.status == 0, "\(claim.stderr)")
        #expect(Wait.until(timeout: .seconds(30)) { (usage(h, "batch1")?["current"] as? [String: Any])?["holder"] as? String == "alice" })

        let drain = try batchctl(h, ["drain", "batch1", "--release"], timeout: .seconds(300))
        #expect(drain.status == 0, "\(drain.stdout)\n\(drain.stderr)")
        let done = drain.stdout.split(separator: "\n").compactMap { line -> Int? in
            guard line.hasPrefix("batch1: "), let n = line.dropFirst(8).split(separator: " ").first else { return nil }
            return Int(n.replacingOccurrences(of: ",", with: ""))
        }
        #expect(done.count >= 2, "\(drain.stdout)")
        #expect(done == done.sorted(), "\(drain.stdout)")             // the count only rises
        #expect(done.last == 200, "\(drain.stdout)")
        #expect(drain.stdout.contains("released your claim on batch1"), "\(drain.stdout)")
        #expect(drain.stdout.contains("alice used "), "\(drain.stdout)")
        #expect(Wait.until(timeout: .seconds(30)) { h.phase("batch1") == "Free" && h.reservation("batch1") == nil })

        // Every worker pod gone and the ledger's last write made (running 0): compare with the pods' lifetimes.
        #expect(Wait.until(timeout: .seconds(60)) { h.pods("celery-batch1").isEmpty && (usage(h, "batch1")?["running"] as? Int) == 0 })
        #expect(Wait.until(timeout: .seconds(10)) { Self.podSeconds(watcher, deployment: "celery-batch1").pods >= 2 })
        let reference = Self.podSeconds(watcher, deployment: "celery-batch1")
        let last = try #require(history(h, "batch1").last)
        #expect(last["holder"] as? String == "alice")
        #expect(last["endReason"] as? String == "Released")
        #expect(last["tasksCompleted"] as? Int == 200)
        let ledger = Self.seconds(last)
        print("ledger \(ledger) replica-seconds, pods' lifetimes \(reference.seconds) s over \(reference.pods) pods")
        #expect(reference.seconds > 0 && abs(ledger - reference.seconds) <= 0.05 * reference.seconds,
                "ledger \(ledger) s, pods \(reference.seconds) s")
        // history shows it; metrics count it.
        let table = try batchctl(h, ["history", "batch1"])
        #expect(table.status == 0 && table.stdout.contains("alice") && table.stdout.contains("Released") && table.stdout.contains("200"), "\(table.stdout)")
        #expect(Wait.until(timeout: .seconds(10)) { h.metric(#"batchctl_tasks_completed_total{queue="batch1"}"#) == 200 })
    }

    @Test("on a terminal, drain redraws one bar in place (carriage return, erase line) and ends the line when drained")
    func drainBarOnATerminal() throws {
        let h = try ControllerHarness(workers: .init(terminationGracePeriodSeconds: 10))
        defer { h.stop() }
        try h.startController()
        #expect(try h.celery.produce(#"[{"queue": "batch1", "count": 30, "task": "fixture.sleep", "args": [0.1]}]"#) == 30)
        #expect(try batchctl(h, ["claim", "batch1", "--replicas", "2"]).status == 0)
        #expect(Wait.until(timeout: .seconds(30)) { usage(h, "batch1")?["current"] != nil })
        // python's pty module gives batchctl a terminal and copies what it writes to our pipe.
        let args = ["drain", "batch1", "--kubeconfig", h.sim.kubeconfigPath, "--context", "alice", "-n", h.namespace]
        let r = try Command.run(ProjectPaths.venvPython, ["-c", "import pty, sys; sys.exit(pty.spawn(sys.argv[1:]) >> 8)",
                                                         ProjectPaths.product("batchctl")] + args,
                                environment: ["BATCHCTL_CONFIG": "", "HOME": h.sim.directory, "TERM": "xterm"], timeout: .seconds(300))
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let redraws = r.stdout.components(separatedBy: "\r\u{1B}[K")
        #expect(redraws.count >= 3, "\(r.stdout.debugDescription)")         // the bar drawn, then redrawn in place
        #expect(redraws.dropFirst().allSatisfy { $0.hasPrefix("batch1 [") }, "\(r.stdout.debugDescription)")
        #expect(redraws.last?.contains("30/30  100%") == true, "\(r.stdout.debugDescription)")
        #expect(r.stdout.contains("drained batch1"))
        #expect(h.reservation("batch1")?.holder == "alice")    // without --release the claim stays
    }

    @Test("claim --release-when-done with 50 tasks: Free soon after the last task (idleAfter, a heartbeat, polls); the webhook names the task count and replica-hours")
    func releaseWhenDone() throws {
        let h = try ControllerHarness(workers: .init(terminationGracePeriodSeconds: 10))
        defer { h.stop() }
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        try h.startController(environment: ["BATCHCTL_WEBHOOK_URL": receiver.url, "BATCHCTL_WEBHOOK_URL_FILE": ""])
        let claim = try batchctl(h, ["claim", "batch1", "--replicas", "2", "--release-when-done"])
        #expect(claim.status == 0, "\(claim.stderr)")
        #expect(claim.stdout.contains("released when done"), "\(claim.stdout)")
        #expect(Wait.until(timeout: .seconds(30)) { h.claimSeen("batch1") })
        Thread.sleep(forTimeInterval: 4)      // longer than idleAfter (3 s): a claim without work yet is not released
        #expect(h.reservation("batch1") != nil)

        let markers = h.directory.path + "/markers"
        #expect(try h.celery.produce(#"[{"queue": "batch1", "count": 50, "task": "fixture.marker", "args": ["t", 0.05, "\#(markers)"]}]"#) == 50)
        var freeAt: Date?
        #expect(Wait.until(timeout: .seconds(180), interval: .milliseconds(50)) {
            if h.reservation("batch1") == nil { freeAt = Date() }
            return freeAt != nil
        })
        let lines = (try? String(contentsOfFile: markers, encoding: .utf8)) ?? ""
        #expect(lines.split(separator: "\n").filter { $0.hasPrefix("done ") }.count == 50)
        let lastDone = try #require(FileManager.default.attributesOfItem(atPath: markers)[.modificationDate] as? Date)
        let delay = try #require(freeAt).timeIntervalSince(lastDone)
        // idleAfter 3 s + the worker's next heartbeat (2 s) + 2 polls (0.4 s), and 1 s for reading the queue with kubectl.
        print("released \(delay) s after the last task completed")
        #expect(delay <= 3 + 2 + 0.4 + 1, "released \(delay) s after the last task completed")
        #expect(Wait.until(timeout: .seconds(30)) { h.phase("batch1") == "Free" })

        #expect(Wait.until(timeout: .seconds(30)) { receiver.bodies.contains { $0.contains("work done") } })
        let message = receiver.bodies.first { $0.contains("work done") } ?? ""
        #expect(message.contains("released batch1 for alice: work done, 50 tasks, "), "\(message)")
        #expect(message.contains(" replica-hours"), "\(message)")
        #expect(try h.eventReasons("batch1").contains("ReleasedWorkDone"))
        let last = try #require(history(h, "batch1").last)
        #expect(last["endReason"] as? String == "WorkDone")
        #expect(last["tasksCompleted"] as? Int == 50)
    }

    @Test("kill -9 of the controller in the middle of a claim: the ledger loses at most a poll (within 5 % of the pods' lifetimes, every task counted); the history survives")
    func killNineKeepsTheLedger() throws {
        let h = try ControllerHarness(workers: .init(terminationGracePeriodSeconds: 10))
        defer { h.stop() }
        let watcher = try podWatcher(h)
        defer { watcher.stop(grace: .seconds(1)) }
        let first = try h.startController()
        // An earlier claim, in the history before the kill.
        try h.claim("batch1", holder: "bob", replicas: 1)
        #expect(Wait.until(timeout: .seconds(30)) { (usage(h, "batch1")?["current"] as? [String: Any])?["holder"] as? String == "bob" })
        try h.release("batch1")
        #expect(Wait.until(timeout: .seconds(30)) { history(h, "batch1").count == 1 })

        try h.claim("batch1", replicas: 2)
        #expect(try h.celery.produce(#"[{"queue": "batch1", "count": 100, "task": "fixture.sleep", "args": [0.2]}]"#) == 100)
        #expect(Wait.until(timeout: .seconds(120)) {
            let current = usage(h, "batch1")?["current"] as? [String: Any]
            return (current?["tasksCompleted"] as? Int ?? 0) >= 10 && (usage(h, "batch1")?["running"] as? Int) == 2
        })
        first.signal(SIGKILL)
        #expect(Wait.until(timeout: .seconds(10)) { !first.isRunning })
        try h.startController()     // leads once the killed one's Lease expires
        #expect(Wait.until(timeout: .seconds(180)) {
            ((usage(h, "batch1")?["current"] as? [String: Any])?["tasksCompleted"] as? Int) == 100
        })
        try h.release("batch1")
        #expect(Wait.until(timeout: .seconds(60)) { h.pods("celery-batch1").isEmpty && (usage(h, "batch1")?["running"] as? Int) == 0 })
        #expect(Wait.until(timeout: .seconds(10)) { Self.podSeconds(watcher, deployment: "celery-batch1").pods >= 2 })

        let claims = history(h, "batch1")
        #expect(claims.map { $0["holder"] as? String } == ["bob", "alice"])
        let alice = try #require(claims.last)
        #expect(alice["tasksCompleted"] as? Int == 100)
        let reference = Self.podSeconds(watcher, deployment: "celery-batch1")
        let ledger = Self.seconds(claims[0]) + Self.seconds(alice)     // bob's claim ran no pods
        print("after kill -9: ledger \(ledger) replica-seconds, pods' lifetimes \(reference.seconds) s over \(reference.pods) pods")
        #expect(reference.seconds > 0 && abs(ledger - reference.seconds) <= 0.05 * reference.seconds,
                "ledger \(ledger) s, pods \(reference.seconds) s")
    }
}

/// `drain` without workers to do the work: `--timeout` gives up with exit status 1, Ctrl-C stops waiting; both keep the claim.
@Suite(.serialized, .enabled(if: CeleryFixture.isAvailable, "needs the venv: make venv"))
struct DrainGivesUpTests {
    @Test("--timeout: exit 1 naming what remains, the claim kept; SIGINT (Ctrl-C): stops, the claim kept")
    func timeoutAndInterrupt() throws {
        let h = try ControllerHarness()     // no kubelet: the Deployment is scaled, but no worker runs
        defer { h.stop() }
        try h.startController()
        try h.claim("batch3", replicas: 1)
        #expect(Wait.until(timeout: .seconds(30)) { h.claimSeen("batch3") })
        #expect(try h.celery.produce(#"[{"queue": "batch3", "count": 5}]"#) == 5)
        #expect(Wait.until(timeout: .seconds(30)) { (try? h.queueObject("batch3"))?.status?.depth == 5 })
        let r = try DrainIntegrationTests().batchctl(h, ["drain", "batch3", "--timeout", "2s"])
        #expect(r.status == 1, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stderr.contains("timed out after 2s waiting for batch3 to drain (5 tasks still queued or in flight); the claim is kept"), "\(r.stderr)")
        #expect(r.stdout.contains("batch3: 0 done, 5 remaining"), "\(r.stdout)")

        let drain = try ChildProcess(name: "drain", executable: ProjectPaths.product("batchctl"),
                                     arguments: ["drain", "batch3", "--kubeconfig", h.sim.kubeconfigPath, "--context", "alice", "-n", h.namespace],
                                     environment: ["BATCHCTL_CONFIG": "", "HOME": h.sim.directory], logDirectory: h.directory.path)
        #expect(Wait.until(timeout: .seconds(30)) { drain.stdout.contains("5 remaining") })
        drain.signal(SIGINT)
        #expect(Wait.until(timeout: .seconds(10)) { !drain.isRunning })
        #expect(h.reservation("batch3")?.holder == "alice")
    }
}
