import Foundation
import Synchronization

/// The scenario's milestones, in the order they happen.
enum DemoPhase: String, Sendable, CaseIterable, Codable {
    /// Redis, KubeSim, the CRD and queues, the controller and the webhook receiver are up.
    case started
    /// `batchctl claim batch1 --replicas 4` returned (as alice).
    case claimed
    /// The producer sent the tasks to batch1.
    case tasksSent
    /// The kubelet started the first worker pod of celery-batch1 (its `celery worker` process).
    case firstWorker
    /// A worker completed the first task.
    case firstTaskDone
    /// celery-batch1 reached the claim's 4 replicas.
    case reachedCeiling
    /// Every task of the first batch completed.
    case drained
    /// idleAfter passed with nothing to do: celery-batch1 is at zero, phase Sleeping.
    case sleeping
    /// New tasks were sent to the sleeping queue.
    case wakeTasksSent
    /// The controller scaled celery-batch1 up again (the Deployment's replicas left zero).
    case woke
    /// A worker pod runs again.
    case wakeWorker
    /// The new tasks completed.
    case wakeDrained
    /// `batchctl release batch1` returned.
    case released
    /// celery-batch1 is back at zero and batch1 is Free.
    case releasedToZero
    /// Tasks were sent to batch2, which nobody holds.
    case orphanTasksSent
    /// batch2's phase is Orphaned.
    case orphaned
    /// The webhook received the orphaned-tasks reminder.
    case orphanReminder
    /// The scenario ended.
    case finished
}

/// What happened when, measured from the demo's start; printed at the end and written as JSON (`--timeline-json`).
final class Timeline: Sendable {
    private struct State {
        var phases: [(DemoPhase, Double)] = []
        var replicaSteps: [(Double, Int)] = []
        var workerCounts: [(Double, Int)] = []
        var reminders: [(seconds: Double, reminder: ReminderReceiver.Reminder)] = []
        var pids: Set<Int32> = []
        var podProcessGroups: Set<Int32> = []
    }

    let start: ContinuousClock.Instant
    let startDate: Date
    private let state = Mutex(State())

    init() {
        start = .now
        startDate = Date()
    }

    /// Seconds since the start.
    var now: Double { seconds(ContinuousClock.now) }

    func seconds(_ instant: ContinuousClock.Instant) -> Double {
        let d = instant - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// Records `phase` now (once: a second mark is ignored).
    @discardableResult
    func mark(_ phase: DemoPhase, at seconds: Double? = nil) -> Double {
        let t = seconds ?? now
        return state.withLock { s in
            if let existing = s.phases.first(where: { $0.0 == phase }) { return existing.1 }
            s.phases.append((phase, t))
            return t
        }
    }

    func time(of phase: DemoPhase) -> Double? { state.withLock { s in s.phases.first { $0.0 == phase }?.1 } }
    func has(_ phase: DemoPhase) -> Bool { time(of: phase) != nil }

    /// celery-batch1's `spec.replicas` changed (what the controller wrote).
    func replicasChanged(to replicas: Int) { state.withLock { $0.replicaSteps.append((now, replicas)) } }
    /// celery-batch1's running worker pods changed.
    func workersChanged(to count: Int) { state.withLock { $0.workerCounts.append((now, count)) } }
    /// The webhook received `reminder` now.
    func reminderReceived(_ reminder: ReminderReceiver.Reminder) { state.withLock { $0.reminders.append((seconds: now, reminder: reminder)) } }
    var reminders: [ReminderReceiver.Reminder] { state.withLock { $0.reminders.map { $0.reminder } } }
    var replicaSteps: [(Double, Int)] { state.withLock { $0.replicaSteps } }

    /// A process the demo started (for the record: tests check that none survives).
    func started(pid: Int32) { _ = state.withLock { $0.pids.insert(pid) } }
    /// A worker pod's process (the leader of its own process group).
    func startedPod(pid: Int32) { _ = state.withLock { $0.podProcessGroups.insert(pid) } }

    // MARK: Measures

    /// The headline figures (seconds), absent when a phase did not happen.
    var measures: [(key: String, label: String, seconds: Double)] {
        func between(_ a: DemoPhase, _ b: DemoPhase) -> Double? {
            guard let x = time(of: a), let y = time(of: b) else { return nil }
            return y - x
        }
        let rows: [(String, String, Double?)] = [
            ("claimToFirstWorker", "claim → first worker started", between(.claimed, .firstWorker)),
            ("tasksSentToFirstWorker", "tasks sent → first worker started", between(.tasksSent, .firstWorker)),
            ("tasksSentToFirstTaskDone", "tasks sent → first task completed", between(.tasksSent, .firstTaskDone)),
            ("tasksSentToCeiling", "tasks sent → 4 replicas", between(.tasksSent, .reachedCeiling)),
            ("drainTime", "drain time (tasks sent → last completed)", between(.tasksSent, .drained)),
            ("drainedToSleeping", "drained → asleep at 0 replicas", between(.drained, .sleeping)),
            ("wakeToScaleWrite", "wake latency: new tasks → scaled up", between(.wakeTasksSent, .woke)),
            ("wakeToWorker", "wake latency: new tasks → worker started", between(.wakeTasksSent, .wakeWorker)),
            ("releaseToZero", "release → 0 replicas, Free", between(.released, .releasedToZero)),
            ("orphanToReminder", "orphaned tasks → reminder", between(.orphanTasksSent, .orphanReminder)),
        ]
        return rows.compactMap { key, label, value in value.map { (key, label, $0) } }
    }

    // MARK: Output

    /// The closing timeline, as printed.
    func summary(tasks: TaskLedger.Summary) -> [String] {
        let phases = state.withLock { $0.phases }
        var lines = ["Timeline (seconds since start):"]
        for (phase, t) in phases.sorted(by: { $0.1 < $1.1 }) {
            var extra = ""
            if phase == .reachedCeiling || phase == .drained {
                let steps = replicaSteps.filter { $0.0 <= t + 0.01 && $0.0 >= (time(of: .tasksSent) ?? 0) }
                if phase == .reachedCeiling, !steps.isEmpty {
                    extra = "  (replicas " + steps.map { "\($0.1) at \(Self.format($0.0))" }.joined(separator: ", ") + ")"
                }
            }
            lines.append("  \(Self.format(t).leftPadded(7))  \(Self.describe(phase))\(extra)")
        }
        lines.append("Measured:")
        for m in measures {
            lines.append("  \(m.label.rightPadded(42)) \(String(format: "%.1f s", m.seconds))")
        }
        lines.append("  \("tasks completed exactly once".rightPadded(42)) \(tasks.completedOnce) of \(tasks.sent)"
                     + (tasks.isExactlyOnce ? "" : " (duplicates: \(tasks.duplicates.count), missing: \(tasks.missing.count))"))
        return lines
    }

    static func describe(_ phase: DemoPhase) -> String {
        switch phase {
        case .started: return "system up: redis-server, KubeSim + kubelet, CRD and queues, batchctl controller, webhook receiver"
        case .claimed: return "alice claimed batch1 (up to 4 replicas)"
        case .tasksSent: return "tasks sent to batch1"
        case .firstWorker: return "first celery-batch1 worker pod started"
        case .firstTaskDone: return "first task completed"
        case .reachedCeiling: return "celery-batch1 at 4 replicas"
        case .drained: return "every task completed"
        case .sleeping: return "batch1 asleep at 0 replicas (idle for idleAfter)"
        case .wakeTasksSent: return "new tasks sent to the sleeping queue"
        case .woke: return "controller scaled celery-batch1 up again"
        case .wakeWorker: return "a worker pod started again"
        case .wakeDrained: return "the new tasks completed"
        case .released: return "alice released batch1"
        case .releasedToZero: return "celery-batch1 at 0 replicas, batch1 Free"
        case .orphanTasksSent: return "tasks sent to batch2, which nobody holds"
        case .orphaned: return "batch2 phase Orphaned"
        case .orphanReminder: return "orphaned-tasks reminder received by the webhook"
        case .finished: return "scenario finished"
        }
    }

    static func format(_ seconds: Double) -> String { String(format: "%.1fs", seconds) }

    /// The machine-readable timeline (`--timeline-json`).
    func json(result: String, message: String?, tasks: TaskLedger.Summary, directory: String) -> [String: Any] {
        let s = state.withLock { $0 }
        func r3(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }
        var measures: [String: Double] = [:]
        for m in self.measures { measures[m.key + "Seconds"] = r3(m.seconds) }
        var root: [String: Any] = [
            "result": result,
            "startedAt": ISO8601DateFormatter().string(from: startDate),
            "elapsedSeconds": r3(now),
            "directory": directory,
            "phases": s.phases.sorted { $0.1 < $1.1 }.map { ["name": $0.0.rawValue, "seconds": r3($0.1)] },
            "replicaSteps": s.replicaSteps.map { ["seconds": r3($0.0), "replicas": $0.1] },
            "workerCounts": s.workerCounts.map { ["seconds": r3($0.0), "workers": $0.1] },
            "measures": measures,
            "reminders": s.reminders.map { ["seconds": r3($0.seconds), "reason": $0.reminder.reason, "queue": $0.reminder.queue, "message": $0.reminder.message] },
            "tasks": ["sent": tasks.sent, "completed": tasks.completions, "completedOnce": tasks.completedOnce,
                      "duplicates": tasks.duplicates, "missing": tasks.missing, "unexpected": tasks.unexpected],
            "pids": s.pids.sorted().map(Int.init),
            "podProcessGroups": s.podProcessGroups.sorted().map(Int.init),
        ]
        if let message { root["message"] = message }
        return root
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
    func rightPadded(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
