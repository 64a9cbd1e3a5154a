import CeleryRedis
import Foundation
import KubeSim
import Synchronization

/// One queue as the demo's table shows it.
struct QueueView: Sendable, Equatable {
    var name: String
    /// The BatchQueue's `status.phase` (written by the controller).
    var phase: String
    var holder: String?
    /// From Redis, read directly (the controller's own reading lands in status at most every few seconds).
    var depth: Int?
    var inFlight: Int?
    /// The worker Deployment's `spec.replicas`: what the controller decided.
    var desired: Int
    /// Worker pods running (not terminating).
    var workers: Int
    /// What the controller last wrote in the BatchQueue's status (rate-limited, so it may lag).
    var reportedReady: Int?
    var reportedDepth: Int?
}

/// Everything the scenario waits on, sampled every 100 ms (Redis every 500 ms).
struct Snapshot: Sendable {
    var queues: [String: QueueView] = [:]
    /// batch1's tasks: completed / sent.
    var done = 0
    var sent = 0

    subscript(_ queue: String) -> QueueView {
        queues[queue] ?? QueueView(name: queue, phase: "Unknown", desired: 0, workers: 0)
    }
}

/// Samples the system (KubeSim's store in this process, Redis, the completions file), records the timeline's
/// worker and replica milestones as they happen, and feeds the live table.
final class Observer: Sendable {
    let system: DemoSystem
    let timeline: Timeline
    let narrator: Narrator
    /// The claim's ceiling (for the `reachedCeiling` milestone).
    let ceiling: Int
    /// The queue the scenario follows.
    static let focus = "batch1"

    private struct State {
        var latest = Snapshot()
        var depths: [String: (Int?, Int?)] = [:]
        var live = false
        var lastReplicas: Int?
        var lastWorkers: Int?
    }
    private let state = Mutex(State())

    init(system: DemoSystem, timeline: Timeline, narrator: Narrator, ceiling: Int) {
        self.system = system
        self.timeline = timeline
        self.narrator = narrator
        self.ceiling = ceiling
    }

    /// The latest sample.
    var latest: Snapshot { state.withLock { $0.latest } }

    /// Turns the live table on or off (off: drawn once more, as it is now, and left on screen).
    func setLive(_ on: Bool) {
        let wasOn = state.withLock { s in
            defer { s.live = on }
            return s.live
        }
        if wasOn && !on {
            show(sample())
            narrator.endLive()
        }
    }

    /// Samples until cancelled.
    func run() async {
        var tick = 0
        while !Task.isCancelled {
            if tick % 5 == 0 { await probeRedis() }
            let snapshot = sample()
            if tick % 10 == 0, state.withLock({ $0.live }) { show(snapshot) }
            tick += 1
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    private func probeRedis() async {
        guard let result = try? await system.probe.observe() else { return }
        state.withLock { s in
            for q in result.queues { s.depths[q.name] = (q.depth, q.inFlight) }
        }
    }

    /// Reads the store and the completions file once, records milestones, and returns the new snapshot.
    @discardableResult
    func sample() -> Snapshot {
        let simulator = system.simulator
        let ns = DemoSystem.namespace
        let batchQueues = simulator.objects(group: "batchctl.dev", resource: "batchqueues", namespace: ns)
        let deployments = simulator.objects(group: "apps", resource: "deployments", namespace: ns)
        let pods = simulator.objects(group: "", resource: "pods", namespace: ns)
        system.ledger.refresh()
        let depths = state.withLock { $0.depths }
        var snapshot = Snapshot()
        for q in batchQueues {
            guard let name = q["metadata"]?["name"]?.stringValue else { continue }
            let deploymentName = q["spec"]?["deployment"]?.stringValue ?? "celery-\(name)"
            let deployment = deployments.first { $0["metadata"]?["name"]?.stringValue == deploymentName }
            let running = pods.filter {
                $0["metadata"]?["labels"]?["app.kubernetes.io/name"]?.stringValue == deploymentName
                    && $0["metadata"]?["deletionTimestamp"] == nil
            }
            snapshot.queues[name] = QueueView(
                name: name, phase: q["status"]?["phase"]?.stringValue ?? "Unknown",
                holder: q["spec"]?["reservation"]?["holder"]?.stringValue,
                depth: depths[name]?.0, inFlight: depths[name]?.1,
                desired: Int(deployment?["spec"]?["replicas"]?.intValue ?? 0), workers: running.count,
                reportedReady: q["status"]?["readyReplicas"]?.intValue.map(Int.init),
                reportedDepth: q["status"]?["depth"]?.intValue.map(Int.init))
        }
        for pod in pods {
            let id = pod["status"]?["containerStatuses"]?.arrayValue?.first?["containerID"]?.stringValue ?? ""
            if id.hasPrefix("kubesim://"), let pid = Int32(id.dropFirst("kubesim://".count)) { timeline.startedPod(pid: pid) }
        }
        (snapshot.done, snapshot.sent) = system.ledger.progress
        record(snapshot[Self.focus], done: snapshot.done)
        state.withLock { $0.latest = snapshot }
        return snapshot
    }

    /// The milestones only the observer sees as they happen.
    private func record(_ q: QueueView, done: Int) {
        let (replicasChanged, workersChanged) = state.withLock { s -> (Bool, Bool) in
            defer {
                s.lastReplicas = q.desired
                s.lastWorkers = q.workers
            }
            return (s.lastReplicas != q.desired, s.lastWorkers != q.workers)
        }
        if replicasChanged { timeline.replicasChanged(to: q.desired) }
        if workersChanged { timeline.workersChanged(to: q.workers) }
        // Times are when a sample saw it (every 100 ms). Work is sent only after the claim and after the sleep,
        // so the first worker after the claim, and the first replica after the sleep, are the producers' doing.
        if q.workers > 0, timeline.has(.claimed) { timeline.mark(.firstWorker) }
        if done > 0, timeline.has(.claimed) { timeline.mark(.firstTaskDone) }
        if q.desired >= ceiling, timeline.has(.claimed) { timeline.mark(.reachedCeiling) }
        if timeline.has(.sleeping) {
            if q.desired > 0 { timeline.mark(.woke) }
            if q.workers > 0 { timeline.mark(.wakeWorker) }
        }
    }

    // MARK: The live table

    private func show(_ snapshot: Snapshot) {
        let rows = DemoSystem.queues.map { snapshot[$0] }
        func number(_ n: Int?) -> String { n.map(String.init) ?? "?" }
        var table = ["  QUEUE   HOLDER  PHASE      DEPTH  IN-FLIGHT  WORKERS/DESIRED  DONE"]
        for q in rows {
            let done = q.name == Self.focus ? "\(snapshot.done)/\(snapshot.sent)" : "-"
            table.append("  " + q.name.rightPadded(8) + (q.holder ?? "-").rightPadded(8) + q.phase.rightPadded(9)
                         + number(q.depth).leftPadded(7) + number(q.inFlight).leftPadded(11)
                         + "\(q.workers)/\(q.desired)".leftPadded(17) + done.leftPadded(8))
        }
        // Off a terminal: one line for the queues that are doing something.
        let busy = rows.filter { $0.name == Self.focus || $0.phase != "Free" || ($0.depth ?? 0) > 0 || $0.workers > 0 }
        let compact = busy.map { q in
            var text = "\(q.name) \(q.phase): depth \(number(q.depth)), in flight \(number(q.inFlight)), workers \(q.workers)/\(q.desired)"
            if q.name == Self.focus { text += ", done \(snapshot.done)/\(snapshot.sent)" }
            return text
        }.joined(separator: " | ")
        narrator.live(table: table, compact: compact)
    }
}
