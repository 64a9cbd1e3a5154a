import Foundation

/// The narrated story: alice claims batch1, sends work, watches the controller ramp up, drain, sleep, wake;
/// she drains the last work and releases it (`drain --release`); tasks sent to unclaimed batch2 raise a reminder.
struct DemoScenario: Sendable {
    let system: DemoSystem
    let observer: Observer
    let narrator: Narrator
    let timeline: Timeline
    let options: DemoOptions

    static let queue = "batch1"
    static let orphanQueue = "batch2"
    static let ceiling = 4

    func run() async throws {
        let q = Self.queue
        narrator.gap()
        narrator.say("The batch queues, as everyone sees them (`batchctl status`, here as alice):")
        try await batchctl(["status"], as: "alice")

        narrator.gap()
        narrator.say("alice needs workers for a one-off job. She claims \(q) for up to \(Self.ceiling) replicas:")
        try await batchctl(["claim", q, "--replicas", "\(Self.ceiling)", "--for", "2h", "--reason", "rehash passwords"], as: "alice")
        timeline.mark(.claimed)

        narrator.gap()
        narrator.say("She sends \(options.tasks) tasks to \(q) (each sleeps 50-500 ms) with a real Celery producer.")
        observer.setLive(true)
        try await produce(queue: q, count: options.tasks, prefix: "task", expected: true, mark: .tasksSent)
        narrator.say("The controller sees the depth and ramps celery-\(q) up one replica every 3 s, up to her \(Self.ceiling); the kubelet starts each pod as a `celery worker`.")
        let drainLimit = 90 + options.tasks / 4
        try await waitFor("All \(options.tasks) tasks completing", seconds: drainLimit,
                          hint: "See the worker logs in \(system.kube.directory)/pods.") { s in
            system.ledger.completed(prefix: "task") >= options.tasks
        }
        timeline.mark(.drained)
        narrator.say("All \(options.tasks) tasks completed. Nothing is queued, in flight or running: after idleAfter (5 s) the controller lets the queue sleep.")

        try await waitForZeroReplicas(q, phase: "Sleeping", "\(q) going to sleep (0 replicas, phase Sleeping)")
        timeline.mark(.sleeping)
        narrator.say("\(q) sleeps at 0 replicas: no idle workers cost anything. The reservation stays alice's.")

        narrator.gap()
        narrator.say("New work arrives: \(options.wakeTasks) more tasks on the sleeping \(q).")
        try await produce(queue: q, count: options.wakeTasks, prefix: "wake", expected: true, mark: .wakeTasksSent)
        narrator.say("This is the last of her work: she waits for it with `batchctl drain`, which follows the controller's status (on a terminal a progress bar redrawn in place; here, piped, a line per change) and with --release gives the queue back once it is drained, printing what the claim used:")
        try await batchctl(["drain", q, "--release", "--timeout", "150s"], as: "alice")
        try await waitFor("The \(options.wakeTasks) new tasks completing", seconds: 90) { _ in
            system.ledger.completed(prefix: "wake") >= options.wakeTasks
        }
        timeline.mark(.wakeDrained)
        timeline.mark(.released)
        if let woke = timeline.time(of: .woke), let sent = timeline.time(of: .wakeTasksSent) {
            narrator.say(String(format: "It woke up %.1f s after the tasks were sent, the new tasks completed, and the claim was released.", woke - sent))
        }
        try await waitForZeroReplicas(q, phase: "Free", "\(q) back at 0 replicas and Free")
        timeline.mark(.releasedToZero)
        narrator.say("\(q) is Free, at 0 replicas.")

        narrator.gap()
        let o = Self.orphanQueue
        narrator.say("Someone sends \(options.orphanTasks) tasks to \(o), which nobody holds: no worker will ever take them.")
        try await produce(queue: o, count: options.orphanTasks, prefix: "orphan", expected: false, mark: .orphanTasksSent)
        try await waitFor("\(o) turning Orphaned", seconds: 30) { s in
            s[o].phase == "Orphaned"
        }
        timeline.mark(.orphaned)
        try await waitFor("The orphaned-tasks reminder for \(o)", seconds: 30) { _ in
            timeline.reminders.contains { $0.reason == "OrphanedTasks" && $0.queue == o }
        }
        timeline.mark(.orphanReminder)
        observer.setLive(false)

        // The controller writes status at most every few seconds unless something important changed: let it
        // catch up, so the table shows what the cluster holds now (best effort; it is only for display).
        await settle(seconds: 10) { s in s[q].reportedReady == 0 && s[o].reportedDepth == options.orphanTasks }

        narrator.gap()
        narrator.say("The queues now:")
        try await batchctl(["status"], as: "alice")
        timeline.mark(.finished)
    }

    // MARK: Steps

    /// Runs the real `batchctl` as `user` (kubeconfig context) and shows the command and its output.
    func batchctl(_ arguments: [String], as user: String) async throws {
        let output = try await system.processes.run(
            name: "batchctl-\(arguments[0])", executable: system.paths.batchctl,
            arguments: arguments + ["--kubeconfig", system.kubeconfig, "--context", user],
            environment: ["COLUMNS": "100", "NO_COLOR": "1"])
        // The command and its output in one piece, so no live line lands between them.
        let command = "\(user)$ batchctl " + arguments.map { $0.contains(" ") ? "\"\($0)\"" : $0 }.joined(separator: " ")
        let text = (output.stdout + output.stderr).trimmingCharacters(in: .newlines)
        let indented = text.isEmpty ? [] : text.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }
        narrator.block(([command] + indented).joined(separator: "\n"))
        guard output.status == 0 else {
            throw DemoError.commandFailed(command: "batchctl \(arguments.joined(separator: " "))", status: output.status, output: "")
        }
    }

    /// Sends `count` tasks to `queue` with demo/celery/produce.py (a real Celery producer from the venv).
    /// - Parameters:
    ///   - expected: whether workers will run them (counted in the exactly-once check).
    ///   - mark: the milestone, timed at the first task's send (as the producer reports it): the controller may
    ///     react before the producer has sent the last one and exited.
    func produce(queue: String, count: Int, prefix: String, expected: Bool, mark: DemoPhase) async throws {
        if expected { system.ledger.expect(prefix: prefix, count: count) }
        let output = try await system.processes.run(
            name: "produce-\(prefix)", executable: system.paths.python,
            arguments: ["\(system.paths.celeryApp)/produce.py", queue, "\(count)", prefix],
            environment: ["BROKER_URL": system.redisURL, "PYTHONPATH": system.paths.celeryApp, "PYTHONDONTWRITEBYTECODE": "1"],
            timeout: .seconds(120))
        guard output.status == 0 else {
            throw DemoError.commandFailed(command: "produce.py \(queue) \(count) \(prefix)", status: output.status, output: output.stderr)
        }
        let report = (try? JSONSerialization.jsonObject(with: Data(output.stdout.utf8))) as? [String: Any]
        if let first = report?["firstSentAt"] as? Double {
            timeline.mark(mark, at: first - timeline.startDate.timeIntervalSince1970)
        } else {
            timeline.mark(mark)
        }
    }

    /// Waits up to `seconds` for `condition`, without failing when it does not hold.
    func settle(seconds: Int, _ condition: (Snapshot) -> Bool) async {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline, Interrupt.signal == nil, !condition(observer.sample()) {
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Polls the observer's samples (every 100 ms) until `condition` holds; Ctrl-C or `seconds` end it. A timeout
    /// names `what` and the `hint` (by default, where the controller's log is).
    func waitFor(_ what: String, seconds: Int, hint: String? = nil, _ condition: (Snapshot) -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while true {
            try Interrupt.check()
            if condition(observer.sample()) { return }
            guard ContinuousClock.now < deadline else {
                throw DemoError.timedOut(what: what, seconds: seconds, hint: hint ?? "The controller's log is \(system.controller.stderrPath).")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Waits (at most 60 s) until `queue` is in `phase` with no desired replicas and no workers.
    func waitForZeroReplicas(_ queue: String, phase: String, _ what: String) async throws {
        try await waitFor(what, seconds: 60) { s in s[queue].phase == phase && s[queue].desired == 0 && s[queue].workers == 0 }
    }
}
