import Foundation

/// What `kubesim demo` runs.
public struct DemoOptions: Sendable {
    /// Keep everything running after the scenario (or instead of it) until Ctrl-C, for trying `batchctl` and `kubectl`.
    public var interactive = false
    /// Run the narrated scenario (`--no-scenario` with `--interactive` skips it).
    public var scenario = true
    /// Tasks alice sends to batch1.
    public var tasks = 400
    /// Tasks that wake the sleeping queue.
    public var wakeTasks = 20
    /// Tasks sent to unclaimed batch2.
    public var orphanTasks = 5
    /// Where to write the timeline as JSON (phases, measures, task counts, the pids started), also on failure.
    public var timelineJSON: String?
    /// The batchctl checkout (default: found from the current directory, else the source tree of this build).
    public var projectDirectory: String?

    /// The defaults: the scenario `make demo` runs, non-interactive, 400 + 20 tasks.
    public init() {}
}

/// `kubesim demo`: the whole system on loopback in one command, and a narrated scenario that shows it working.
public enum Demo {
    /// Runs the demo and returns the exit status: 0 when the scenario completed (or, with `--interactive`,
    /// on Ctrl-C), 1 when a step failed or did not happen in time, 128+N when signal N stopped it.
    /// Every process it started is stopped, and its temporary directory removed, before it returns.
    public static func run(_ options: DemoOptions) async -> Int32 {
        Interrupt.install()
        let timeline = Timeline()
        let narrator = Narrator(timeline: timeline)
        let paths: DemoPaths
        do {
            paths = try DemoPaths.locate(projectDirectory: options.projectDirectory)
        } catch {
            narrator.say("error: \(error)")
            return 1
        }

        let system: DemoSystem
        do {
            system = try await DemoSystem.start(paths: paths, timeline: timeline, narrator: narrator, guarded: options.interactive) { reminder in
                timeline.reminderReceived(reminder)
                narrator.say("webhook: reminder \(reminder.reason) (\(reminder.queue)): \(reminder.message)")
            }
        } catch {
            let status = report(error, narrator: narrator)
            write(timeline, options: options, status: status, error: error, ledger: nil, directory: "", narrator: narrator)
            return status
        }
        timeline.mark(.started)

        let observer = Observer(system: system, timeline: timeline, narrator: narrator, ceiling: DemoScenario.ceiling)
        let observing = Task { await observer.run() }
        var status: Int32 = 0
        var failure: (any Error)?
        do {
            if options.scenario {
                try await DemoScenario(system: system, observer: observer, narrator: narrator, timeline: timeline, options: options).run()
                let tasks = system.ledger.summary
                narrator.gap()
                narrator.block(timeline.summary(tasks: tasks).joined(separator: "\n"), indent: 0)
                guard tasks.isExactlyOnce else {
                    throw DemoError.checkFailed("Not every task completed exactly once: \(tasks.duplicates.count) duplicated "
                        + "(\(tasks.duplicates.prefix(5).joined(separator: ", "))), \(tasks.missing.count) missing "
                        + "(\(tasks.missing.prefix(5).joined(separator: ", "))), \(tasks.unexpected.count) unexpected.")
                }
            }
            if options.interactive {
                try await keepRunning(system, observer: observer, narrator: narrator)
            }
        } catch DemoError.interrupted(let signal) where options.interactive {
            _ = signal   // Ctrl-C is how an interactive demo ends.
        } catch {
            status = report(error, narrator: narrator)
            failure = error
        }
        observing.cancel()
        await observing.value
        observer.setLive(false)
        narrator.gap()
        narrator.say("Stopping everything the demo started (controller, worker pods, KubeSim, webhook receiver, redis-server)...")
        let directory = system.directory
        await system.processes.stopAll()
        narrator.say("Stopped; removed \(directory).")
        write(timeline, options: options, status: status, error: failure, ledger: system.ledger, directory: directory, narrator: narrator)
        return status
    }

    /// Prints what went wrong and returns the exit status for it.
    private static func report(_ error: any Error, narrator: Narrator) -> Int32 {
        if case DemoError.interrupted(let signal) = error {
            narrator.say("\(error): stopping.")
            return 128 + signal
        }
        narrator.say("error: \(error)")
        return 1
    }

    /// Keeps everything running until Ctrl-C, with the live table and instructions for trying it by hand.
    private static func keepRunning(_ system: DemoSystem, observer: Observer, narrator: Narrator) async throws {
        let paths = system.paths
        narrator.gap()
        narrator.say("""
            Everything keeps running until you press Ctrl-C. In another terminal:
                export KUBECONFIG=\(system.kubeconfig) PATH="\(paths.binDirectory):$PATH"
                batchctl status --context alice
                batchctl claim batch3 --replicas 3 --reason "try it" --context alice
                BROKER_URL=\(system.redisURL) \(paths.python) \(paths.celeryApp)/produce.py batch3 200 mine
                kubectl get bq,deployments,pods
                batchctl release batch3 --context alice
            The controller's log: \(system.controller.stderrPath); worker pod logs: \(system.kube.directory)/pods/.
            \(system.guardInstructions)
            Reminders from the controller appear here.
            """)
        observer.setLive(true)
        while true {
            try Interrupt.check()
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    private static func write(_ timeline: Timeline, options: DemoOptions, status: Int32, error: (any Error)?, ledger: TaskLedger?,
                              directory: String, narrator: Narrator) {
        guard let path = options.timelineJSON else { return }
        let result: String
        if let e = error as? DemoError, case .interrupted = e {
            result = "interrupted"
        } else {
            result = status == 0 ? "ok" : "failed"
        }
        let empty = TaskLedger.Summary(sent: 0, completions: 0, completedOnce: 0, duplicates: [], missing: [], unexpected: [])
        let object = timeline.json(result: result, message: error.map { "\($0)" }, tasks: ledger?.summary ?? empty, directory: directory)
        do {
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            try data.write(to: URL(fileURLWithPath: path))
        } catch {
            narrator.say("error: cannot write the timeline to \(path): \(error)")
        }
    }
}
