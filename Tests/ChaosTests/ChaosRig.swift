import BatchTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// One chaos scenario's system (`ControllerHarness`: redis-server, KubeSim, `batchctl controller` processes
/// with a short Lease) plus a fixed workload, and the invariants every scenario checks at its end:
///
/// 1. convergence: once the faults stop, Deployments and BatchQueue status reach what `decide` gives for
///    the workload (bounded wait);
/// 2. no reservation lost: every claim that succeeded is still in the BatchQueue's spec;
/// 3. band safety: every replica count written to a Deployment (`/scale`, or `spec.replicas` in a
///    Deployment write), as KubeSim's request log recorded it, lies in [0, the queue's ceiling];
/// 4. nothing crashed: every controller ended only by our SIGKILL or, at the end, by SIGTERM with exit 0,
///    none printed a Swift fatal error, and KubeSim still serves.
final class ChaosRig {
    let h: ControllerHarness
    let settings = ChaosSettings.current
    var rng: SeededGenerator
    let scenario: String
    let started = ContinuousClock.now
    /// The queues' replica ceilings while this scenario runs: a claimed queue's reservation replicas, 0 for
    /// a queue nobody claims.
    var ceilings: [String: Int]
    /// The reservations that must survive: queue → (holder, replicas).
    var claims: [String: (holder: String, replicas: Int)] = [:]
    /// Controllers we ended with SIGKILL (by pid).
    private(set) var killed: Set<Int32> = []
    /// How many of those held the Lease when killed.
    private(set) var killedWhileLeading = 0

    /// Short leader election (client-go's 15 s / 10 s / 2 s scaled down), so a restarted controller takes
    /// over within seconds and a run of 50 kills stays short.
    static let leaseArguments = ["--leader-elect-lease-duration", "4s", "--leader-elect-renew-deadline", "3s",
                                 "--leader-elect-retry-period", "1s"]

    /// - Parameters:
    ///   - number: picks this scenario's random generator from the seed.
    ///   - extraUsers: KubeSim users `user01`... (for the claim race).
    init(_ scenario: String, number: UInt64, extraUsers: Int = 0, ceilings: [String: Int]) throws {
        self.scenario = scenario
        self.ceilings = ceilings
        rng = settings.generator(number)
        h = try ControllerHarness(extraUsers: ClaimRace.users(count: extraUsers))
        print("[\(scenario)] \(settings)")
    }

    // MARK: Controllers

    @discardableResult
    func startController(waitUntilReady: Bool = true) throws -> ChildProcess {
        try h.startController(arguments: Self.leaseArguments, waitUntilReady: waitUntilReady)
    }

    /// The index of the controller holding the Lease (its identity is `controller-<index>_<random>`).
    func leaderIndex() -> Int? {
        guard let holder = h.leaseHolder(), holder.hasPrefix("controller-"),
              let underscore = holder.firstIndex(of: "_") else { return nil }
        return Int(holder[holder.index(holder.startIndex, offsetBy: 11)..<underscore])
    }

    /// `kill -9`, then waits for the exit; records whether it was leading. A controller that had already
    /// exited by itself shows up as a crash in `checkNothingCrashed`.
    func kill9(_ index: Int) {
        let c = h.controllers[index]
        if leaderIndex() == index { killedWhileLeading += 1 }
        killed.insert(c.pid)
        c.signal(SIGKILL)
        _ = c.waitForExit(timeout: .seconds(10))
    }

    /// Sleeps for a number of seconds drawn uniformly from `range` with this scenario's generator: the chaos
    /// scenario's random pace of faults, not a wait for a result (those are `Wait.until`).
    func sleepRandomly(_ range: ClosedRange<Double>) {
        Thread.sleep(forTimeInterval: Double.random(in: range, using: &rng))
    }

    // MARK: Workload

    /// Claims (as admin writes of spec.reservation, as `batchctl claim` makes them) and tasks: every claimed
    /// queue and `batch2` (unclaimed: Orphaned) get 20 tasks; batch3 stays empty.
    func setUpWorkload(claims: [String: (holder: String, replicas: Int)]) throws {
        for (queue, c) in claims.sorted(by: { $0.key < $1.key }) {
            try h.claim(queue, holder: c.holder, replicas: c.replicas)
            self.claims[queue] = c
        }
        try refillTasks()
    }

    /// Queues that should hold tasks: every claimed one, batch2, and any given to `refillTasks`.
    private(set) var busyQueues: Set<String> = ["batch2"]

    /// Puts 20 tasks (real Celery messages) on every queue of `queues` (default: the busy ones) that is
    /// empty (Redis restarts empty).
    func refillTasks(_ queues: [String]? = nil) throws {
        busyQueues.formUnion(claims.keys)
        busyQueues.formUnion(queues ?? [])
        let empty = try (queues ?? busyQueues.sorted()).filter { try depth($0) == 0 }
        guard !empty.isEmpty else { return }
        let spec = "[" + empty.map { #"{"queue": "\#($0)", "count": 20}"# }.joined(separator: ", ") + "]"
        #expect(try h.celery.produce(spec) == 20 * empty.count)
    }

    /// LLEN of a queue's base list.
    func depth(_ queue: String) throws -> Int {
        Int(try h.redis.cli(["LLEN", queue]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    /// Empties a queue (as if its workers drained it): the controller puts it to sleep after idleAfter.
    func drain(_ queue: String) throws {
        try h.redis.cli(["DEL", queue])
    }

    // MARK: Invariant 1: convergence

    /// What `decide` gives for the workload once nothing is failing (checks call this after `refillTasks()`,
    /// so every claimed queue has tasks): a claimed queue with tasks runs at its holder's ceiling (no
    /// tasksPerReplica, budget 40 not reached; ramped 2 per 2 s), a free queue has 0 replicas, Orphaned
    /// with tasks and Free without.
    var expected: [String: (replicas: Int, phase: String)] {
        var e: [String: (Int, String)] = [:]
        for q in ["batch0", "batch1", "batch2", "batch3"] {
            if let c = claims[q] {
                e[q] = (c.replicas, "Running")
            } else {
                e[q] = (0, busyQueues.contains(q) ? "Orphaned" : "Free")
            }
        }
        return e
    }

    /// Waits (bounded) until every Deployment and BatchQueue status matches `expected`; records what
    /// differs when it does not.
    func expectConverged(timeout: Duration = .seconds(180), sourceLocation: SourceLocation = #_sourceLocation) {
        var differences: [String] = ["nothing read yet"]
        let converged = Wait.until(timeout: timeout, interval: .milliseconds(500)) {
            differences = self.differencesFromExpected()
            return differences.isEmpty
        }
        #expect(converged, "[\(scenario)] did not converge: \(differences.joined(separator: "; ")); \(settings)",
                sourceLocation: sourceLocation)
    }

    func differencesFromExpected() -> [String] {
        let deployments = h.sim.curlJSON("/apis/apps/v1/namespaces/\(h.namespace)/deployments")
        let queues = h.sim.curlJSON("/apis/batchctl.dev/v1alpha1/namespaces/\(h.namespace)/batchqueues")
        guard let deployments, let queues else { return ["could not list deployments or batchqueues"] }
        var out: [String] = []
        for (q, e) in expected.sorted(by: { $0.key < $1.key }) {
            let d = deployments.first { dig($0, "metadata", "name") as? String == "celery-\(q)" }
            let replicas = d.flatMap { dig($0, "spec", "replicas") as? Int }
            if replicas != e.replicas { out.append("celery-\(q) has \(replicas.map(String.init) ?? "?") replicas, want \(e.replicas)") }
            let bq = queues.first { dig($0, "metadata", "name") as? String == q }
            let status = bq?["status"] as? [String: Any] ?? [:]
            if status["phase"] as? String != e.phase { out.append("\(q) phase \(status["phase"] ?? "none"), want \(e.phase)") }
            if status["desiredReplicas"] as? Int != e.replicas { out.append("\(q) desiredReplicas \(status["desiredReplicas"] ?? "none"), want \(e.replicas)") }
            if status["replicas"] as? Int != e.replicas { out.append("\(q) status.replicas \(status["replicas"] ?? "none"), want \(e.replicas)") }
            let redis = (status["conditions"] as? [[String: Any]])?.first { $0["type"] as? String == "RedisReachable" }
            if redis?["status"] as? String != "True" { out.append("\(q) RedisReachable \(redis?["status"] ?? "none")") }
        }
        return out
    }

    // MARK: Invariant 2: no reservation lost

    func expectReservationsKept(sourceLocation: SourceLocation = #_sourceLocation) {
        for (q, c) in claims.sorted(by: { $0.key < $1.key }) {
            let r = h.reservation(q)
            #expect(r?.holder == c.holder && r?.replicas == c.replicas,
                    "[\(scenario)] \(q): reservation \(String(describing: r)), want \(c.holder) for \(c.replicas); \(settings)",
                    sourceLocation: sourceLocation)
        }
    }

    // MARK: Invariant 3: band safety

    /// Checks every replica count written to a worker Deployment, accepted or not, and returns how many.
    @discardableResult
    func checkBandSafety(sourceLocation: SourceLocation = #_sourceLocation) throws -> Int {
        let log = try h.sim.requests()
        #expect(log.count < 100_000, "[\(scenario)] KubeSim's request log is full: writes may be missing", sourceLocation: sourceLocation)
        let prefix = "/apis/apps/v1/namespaces/\(h.namespace)/deployments"
        var checked = 0
        for r in log where r.isWrite && r.method != "DELETE" && r.path.hasPrefix(prefix) {
            let rest = r.path.dropFirst(prefix.count).split(separator: "/").map(String.init)
            let isScale = rest.count == 2 && rest[1] == "scale"
            guard (rest.count == 1 || isScale) || (r.method == "POST" && rest.isEmpty) else { continue }
            let object = r.body.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            let name = rest.first ?? (dig(object ?? [:], "metadata", "name") as? String) ?? "?"
            let queue = name.hasPrefix("celery-") ? String(name.dropFirst("celery-".count)) : name
            guard let replicas = object.flatMap({ dig($0, "spec", "replicas") }) else {
                #expect(!isScale, "[\(scenario)] a /scale write without spec.replicas: \(r.method) \(r.path) \(r.body ?? "")",
                        sourceLocation: sourceLocation)
                continue
            }
            checked += 1
            let ceiling = min(ceilings[queue] ?? 0, 20)
            guard let n = replicas as? Int, (0...ceiling).contains(n) else {
                let what = "[\(scenario)] \(r.user) wrote replicas \(replicas) to \(r.path) at \(r.time) (status \(r.status)); allowed 0...\(ceiling)"
                Issue.record("\(what); \(settings)", sourceLocation: sourceLocation)
                continue
            }
        }
        return checked
    }

    // MARK: Invariant 4: nothing crashed

    /// Stops the controllers still running with SIGTERM and checks how every controller ended; checks that
    /// KubeSim still answers.
    func checkNothingCrashed(sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(h.sim.isRunning && (try? h.sim.curl("GET", "/version").status) == 200,
                "[\(scenario)] KubeSim stopped serving", sourceLocation: sourceLocation)
        for c in h.controllers {
            let ours = killed.contains(c.pid)
            if ours {
                #expect(c.terminatingSignal == SIGKILL, "[\(scenario)] \(c.name) ended by \(c.exitStatus.map(String.init) ?? "?") before our kill -9; stderr: \(tail(c.stderr))",
                        sourceLocation: sourceLocation)
            } else {
                #expect(c.isRunning, "[\(scenario)] \(c.name) exited by itself with \(c.exitStatus.map(String.init) ?? "?"); stderr: \(tail(c.stderr))",
                        sourceLocation: sourceLocation)
                c.stop(grace: .seconds(15))
                #expect(c.exitStatus == 0 && c.terminatingSignal == nil,
                        "[\(scenario)] \(c.name) did not stop cleanly on SIGTERM: status \(c.exitStatus.map(String.init) ?? "?"), signal \(c.terminatingSignal.map(String.init) ?? "none"); stderr: \(tail(c.stderr))",
                        sourceLocation: sourceLocation)
            }
            for marker in ["Fatal error", "Program crashed", "Segmentation fault"] {
                #expect(!c.stderr.contains(marker), "[\(scenario)] \(c.name) printed \"\(marker)\": \(tail(c.stderr))", sourceLocation: sourceLocation)
            }
        }
    }

    /// All four invariants, then a one-line summary; stops everything.
    func finish(sourceLocation: SourceLocation = #_sourceLocation) throws {
        try refillTasks()
        expectConverged(sourceLocation: sourceLocation)
        expectReservationsKept(sourceLocation: sourceLocation)
        let writes = try checkBandSafety(sourceLocation: sourceLocation)
        checkNothingCrashed(sourceLocation: sourceLocation)
        let seconds = Double((ContinuousClock.now - started).components.seconds)
        let summary = "[\(scenario)] done in \(Int(seconds)) s: \(writes) replica writes checked, "
            + "\(killed.count) kill -9 (\(killedWhileLeading) of a leader), \(h.controllers.count) controllers started; \(settings)"
        print(summary)
        h.stop()
    }

    func tail(_ text: String) -> String { String(text.suffix(1500)) }
}

extension KubeSimServer {
    /// The `items` of a list, read as admin with curl (nil when the read fails).
    func curlJSON(_ path: String) -> [[String: Any]]? {
        guard let r = try? curl("GET", path), r.status == 200 else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any])?["items"] as? [[String: Any]]
    }
}

/// `object[k1][k2]...`.
func dig(_ object: [String: Any], _ keys: String...) -> Any? {
    var current: Any? = object
    for k in keys { current = (current as? [String: Any])?[k] }
    return current
}
