import Foundation
import LocalProcesses

/// Issue 8's end-to-end scenarios: `batchctl controller` scaling worker Deployments whose pods KubeSim's
/// kubelet runs as real `celery worker` processes (concurrency 1, prefetch 1, early ack), with tasks that
/// record themselves in a side-effect file. Used by the integration tests and by `batchbench`.
///
/// A task is **interrupted** when the file has its "start ID" line but no "done ID" line once the scenario
/// is over: its worker was stopped (SIGTERM, then SIGKILL after `terminationGracePeriodSeconds`) while it ran.
/// With Celery's default early ack such a task is lost; with `acks_late` it would run again after the
/// broker's visibility timeout.
public enum BusyWorkerScenario {
    /// Which scenario to run.
    public enum Kind: String, Sendable, CaseIterable {
        /// Three workers, one runs a long task, the others are idle; the holder lowers the ceiling from 3 to 1.
        case ceilingDrop = "ceiling 3 → 1"
        /// Two workers; the queue drains while one still runs the long task; idleAfter passes.
        case drain = "queue drains"
        /// As `ceilingDrop`, but the holder releases the queue instead (then the busy worker drains).
        case release = "released"
    }

    /// What happened, from the side-effect file, the pods and KubeSim's request log.
    public struct Outcome: Sendable {
        public var kind: Kind
        public var busyAware: Bool
        /// Task id → pods that wrote "start" for it (more than one: it ran twice).
        public var started: [String: [String]]
        /// Task id → pods that wrote "done" for it.
        public var finished: [String: [String]]
        /// The pod that ran the long task.
        public var longTaskPod: String?
        /// Pods of the Deployment that were running before the scale-down and are gone at the end.
        public var stoppedPods: [String]
        /// Replica counts written to the Deployment's /scale, in order.
        public var scaleWrites: [Int]
        /// Event reasons on the BatchQueue, oldest first.
        public var events: [String]
        /// Phase and replicas at the end.
        public var phase: String?
        public var replicas: Int?
        /// True when the Deployment reached 0 replicas before the long task wrote "done".
        public var sleptWhileBusy: Bool
        /// `release`: the status of the BatchQueue's `Draining` condition once the idle workers were stopped.
        public var drainingWhileBusy: String?

        /// Started but never finished: see the type's documentation.
        public var interrupted: [String] { started.keys.filter { finished[$0] == nil }.sorted() }
        /// Every task id started once and finished once.
        public var exactlyOnce: Bool {
            started.values.allSatisfy { $0.count == 1 } && finished.values.allSatisfy { $0.count == 1 }
                && Set(started.keys) == Set(finished.keys)
        }
    }

    static let queue = "batch1"
    static let deployment = "celery-batch1"
    static let longTask = "long"

    /// Runs `kind` once and returns its outcome. Everything it starts is stopped before it returns.
    /// - Parameters:
    ///   - busyAware: the controller's `busyAware` setting (false: depth-only, as KEDA's Redis scaler).
    ///   - longTaskSeconds: how long the long task runs; longer than `terminationGracePeriodSeconds`.
    ///   - terminationGracePeriodSeconds: the worker pods' grace between SIGTERM and SIGKILL.
    public static func run(_ kind: Kind, busyAware: Bool, longTaskSeconds: Int = 20,
                           terminationGracePeriodSeconds: Int = 3) throws -> Outcome {
        let idleAfter = kind == .drain ? "3s" : "10m"
        let h = try ControllerHarness(config: "rampUp: {step: 3, every: 0s}\nidleAfter: \(idleAfter)\nbusyAware: \(busyAware)",
                                      workers: .init(terminationGracePeriodSeconds: terminationGracePeriodSeconds))
        defer { h.stop() }
        let markers = h.directory.path + "/markers.txt"
        try "".write(toFile: markers, atomically: true, encoding: .utf8)
        func send(_ id: String, seconds: Double) throws {
            try h.celery.produce(#"[{"queue": "\#(queue)", "count": 1, "task": "fixture.marker", "args": ["\#(id)", \#(seconds), "\#(markers)"]}]"#)
        }
        func lines() -> [(String, String, String)] {
            let text = (try? String(contentsOfFile: markers, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { line in
                let f = line.split(separator: " ").map(String.init)
                return f.count == 3 ? (f[0], f[1], f[2]) : nil
            }
        }
        func has(_ what: String, _ id: String) -> Bool { lines().contains { $0.0 == what && $0.1 == id } }

        try h.startController()
        var sleptWhileBusy = false
        var draining: String?
        var before: [String] = []
        switch kind {
        case .ceilingDrop, .release:
            // Three workers each run a short task, so all three consume real tasks and are up.
            for i in 0..<3 { try send("short-\(i)", seconds: 1) }
            try h.claim(queue, replicas: 3)
            try require(Wait.until(timeout: .seconds(90), interval: .milliseconds(500)) { (0..<3).allSatisfy { has("done", "short-\($0)") } && h.pods(deployment).count == 3 },
                        "three workers did not run the short tasks")
            try send(longTask, seconds: Double(longTaskSeconds))
            try require(Wait.until(timeout: .seconds(60), interval: .milliseconds(500)) { has("start", longTask) }, "the long task did not start")
            // Heartbeats must report the busy worker before the ceiling drops: `active` lags a task's start by up
            // to one heartbeat (freq 2 s), and a worker of the short tasks may still report one. Wait until
            // `batchctl probe` hears exactly the long task's worker busy.
            let longPod = lines().first { $0.0 == "start" && $0.1 == longTask }?.2 ?? ""
            try require(Wait.until(timeout: .seconds(60), interval: .milliseconds(100)) {
                guard let workers = h.probe(queue)?.workers else { return false }
                return workers.contains { $0.hostname == "celery@\(longPod)" && $0.active == 1 && !$0.stale }
                    && workers.allSatisfy { $0.hostname == "celery@\(longPod)" || $0.active == 0 }
            }, "the heartbeats did not report the long task's worker alone as busy")
            if busyAware {
                try require(Wait.until(timeout: .seconds(20), interval: .milliseconds(500)) { h.busyWorkers(queue) == 1 }, "the busy worker was not seen")
            }
            before = h.pods(deployment)
            if kind == .release { try h.release(queue) } else { try h.setReservationReplicas(queue, 1) }
            _ = Wait.until(timeout: .seconds(60), interval: .milliseconds(500)) { h.pods(deployment).count == 1 }
            draining = h.condition(queue, "Draining")?.status
            _ = Wait.until(timeout: .seconds(Double(longTaskSeconds) + 30), interval: .milliseconds(500)) {
                has("done", longTask) || !h.pods(deployment).contains(longPod)
            }
            if kind == .release {
                _ = Wait.until(timeout: .seconds(30), interval: .milliseconds(500)) { h.replicas(deployment) == 0 && h.pods(deployment).isEmpty }
            }
        case .drain:
            // Short tasks first: a task queued behind the long one would be prefetched by its worker and
            // show as in-flight (unacked), which would keep even a depth-only scaler awake.
            for i in 0..<2 { try send("short-\(i)", seconds: 1) }
            try send(longTask, seconds: Double(longTaskSeconds))
            try h.claim(queue, replicas: 2)
            try require(Wait.until(timeout: .seconds(90), interval: .milliseconds(500)) { has("start", longTask) }, "the long task did not start")
            before = h.pods(deployment)
            // Wait for the end of the long task, or for the Deployment to sleep under it.
            _ = Wait.until(timeout: .seconds(Double(longTaskSeconds) + 60), interval: .milliseconds(500)) {
                if has("done", longTask) { return true }
                if h.replicas(deployment) == 0 { sleptWhileBusy = true }
                return sleptWhileBusy && h.pods(deployment).isEmpty
            }
            before = Array(Set(before).union(h.pods(deployment)))
            _ = Wait.until(timeout: .seconds(60), interval: .milliseconds(500)) { h.replicas(deployment) == 0 && h.pods(deployment).isEmpty }
        }
        // Every task started either finished or lost its pod (so it writes no more lines), then read everything.
        _ = Wait.until(timeout: .seconds(30), interval: .milliseconds(200)) {
            let all = lines()
            let running = Set(h.pods(deployment))
            return all.filter { $0.0 == "start" }.allSatisfy { s in all.contains { $0.0 == "done" && $0.1 == s.1 } || !running.contains(s.2) }
        }
        var started: [String: [String]] = [:]
        var finished: [String: [String]] = [:]
        for (what, id, pod) in lines() {
            if what == "start" { started[id, default: []].append(pod) } else if what == "done" { finished[id, default: []].append(pod) }
        }
        let after = Set(h.pods(deployment))
        return Outcome(kind: kind, busyAware: busyAware, started: started, finished: finished,
                       longTaskPod: started[longTask]?.first, stoppedPods: before.filter { !after.contains($0) }.sorted(),
                       scaleWrites: try h.scaleWrites(deployment), events: try h.eventReasons(queue),
                       phase: h.phase(queue), replicas: h.replicas(deployment), sleptWhileBusy: sleptWhileBusy,
                       drainingWhileBusy: draining)
    }

    static func require(_ ok: Bool, _ message: String) throws {
        if !ok { throw SupportError("busy-worker scenario: \(message)") }
    }
}

extension ControllerHarness {
    /// Changes the holder's replicas (the ceiling), as `batchctl scale QUEUE N` would.
    public func setReservationReplicas(_ queue: String, _ replicas: Int) throws {
        try sim.kubectlOK(["patch", "batchqueue", queue, "-n", namespace, "--type", "merge", "-p",
                           #"{"spec":{"reservation":{"replicas":\#(replicas)}}}"#])
    }
}
