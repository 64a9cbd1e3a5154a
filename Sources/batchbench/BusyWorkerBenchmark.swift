import BatchTesting
import Foundation

/// Issue 8's scenarios with busy-awareness on and off (`BusyWorkerScenario`): how many tasks were
/// interrupted when the ceiling drops from 3 to 1, and when the queue drains under a running task.
struct BusyWorkerBenchmark: Benchmark {
    let name = "busy-workers"
    let summary = "issue 8's busy-worker scenarios, busy-awareness on and off (about 2 minutes)"

    func run() async throws -> [Figure] {
        var figures: [Figure] = []
        for kind in [BusyWorkerScenario.Kind.ceilingDrop, .drain] {
            for busyAware in [true, false] {
                let clock = ContinuousClock()
                let start = clock.now
                let o = try BusyWorkerScenario.run(kind, busyAware: busyAware)
                let took = clock.now - start
                let interrupted = o.interrupted
                var notes = "tasks interrupted: \(interrupted.count) of \(o.started.count)"
                    + (interrupted.isEmpty ? "" : " (\(interrupted.joined(separator: ", ")))")
                    + "; each task id done exactly once: \(o.exactlyOnce ? "yes" : "no")"
                switch kind {
                case .ceilingDrop:
                    let busyStopped = o.longTaskPod.map(o.stoppedPods.contains) ?? false
                    notes += "; pods stopped: \(o.stoppedPods.count), the busy one among them: \(busyStopped ? "yes" : "no")"
                case .drain, .release:
                    notes += "; scaled to 0 while the 20 s task ran: \(o.sleptWhileBusy ? "yes" : "no")"
                }
                notes += "; scale writes \(o.scaleWrites.map(String.init).joined(separator: " → "))"
                print("\(kind.rawValue), busyAware \(busyAware): \(notes)")
                figures.append(Figure(name: "busy workers: \(kind.rawValue), busyAware \(busyAware)", median: took, p90: took,
                                      runs: 1, notes: notes))
            }
        }
        return figures
    }
}
