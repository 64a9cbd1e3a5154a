import Foundation
import LocalProcesses
import Synchronization

/// Every process the demo starts and the steps that stop them: on the way out (the end, an error, Ctrl-C)
/// `stopAll()` runs the steps in reverse order, so nothing the demo started outlives it.
final class ProcessRegistry: Sendable {
    private let steps = Mutex<[@Sendable () async -> Void]>([])
    private let commands = Mutex<[ChildProcess]>([])
    let timeline: Timeline
    /// Where the commands' output files go.
    let logDirectory: String

    init(timeline: Timeline, logDirectory: String) {
        self.timeline = timeline
        self.logDirectory = logDirectory
    }

    /// Adds a stop step (run after every step added later).
    func onStop(_ step: @escaping @Sendable () async -> Void) {
        steps.withLock { $0.append(step) }
    }

    /// Runs every stop step, newest first, each once; commands still running are stopped first.
    func stopAll() async {
        let running = commands.withLock { list in
            defer { list.removeAll() }
            return list
        }
        if !running.isEmpty {
            await Blocking.run { for c in running { c.stop(grace: .seconds(5)) } }
        }
        while let step = steps.withLock({ $0.popLast() }) {
            await step()
        }
    }

    /// Starts a long-running child (stopped by `stopAll`, SIGTERM then SIGKILL after `grace`).
    func start(name: String, executable: String, arguments: [String], environment: [String: String] = [:],
               grace: Duration = .seconds(10)) throws -> ChildProcess {
        let child = try spawn(name: name, executable: executable, arguments: arguments, environment: environment,
                              verb: "start")
        onStop { await Blocking.run { child.stop(grace: grace) } }
        return child
    }

    /// Starts `executable` with its output in `logDirectory` and puts its pid on the timeline; `verb` ("start",
    /// "run") says in the error what could not be done.
    private func spawn(name: String, executable: String, arguments: [String], environment: [String: String],
                       verb: String) throws -> ChildProcess {
        let child: ChildProcess
        do {
            child = try ChildProcess(name: name, executable: executable, arguments: arguments, environment: environment,
                                     logDirectory: logDirectory)
        } catch {
            throw DemoError.startFailed("cannot \(verb) \(executable): \(error)")
        }
        timeline.started(pid: child.pid)
        return child
    }

    /// What a command printed and how it ended.
    struct Output: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs a command to its end (at most `timeout`); Ctrl-C stops it and throws `DemoError.interrupted`.
    func run(name: String, executable: String, arguments: [String], environment: [String: String] = [:],
             timeout: Duration = .seconds(60)) async throws -> Output {
        try Interrupt.check()
        let child = try spawn(name: name, executable: executable, arguments: arguments, environment: environment,
                              verb: "run")
        commands.withLock { $0.append(child) }
        defer { commands.withLock { list in list.removeAll { $0 === child } } }
        let deadline = ContinuousClock.now + timeout
        while ChildProcess.isAlive(child.pid) {
            if Interrupt.signal != nil || ContinuousClock.now >= deadline {
                await Blocking.run { child.stop(grace: .seconds(5)) }
                try Interrupt.check()
                throw DemoError.timedOut(what: "`\(name)`", seconds: Int(timeout.components.seconds),
                                         hint: "Its output is in \(child.stdoutPath) and \(child.stderrPath).")
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        // Foundation notices the exit a little later than /proc; its status is what we need.
        let status = try await Blocking.value { child.waitForExit(timeout: .seconds(30)) ?? -1 }
        return Output(status: status, stdout: child.stdout, stderr: child.stderr)
    }
}
