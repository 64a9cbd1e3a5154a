import ArgumentParser
import BatchCore
import BatchctlKit
import FoundationEssentials
import KubeClient
#if canImport(Glibc)
import Glibc
#endif

/// `batchctl drain QUEUE [--release] [--timeout D]`.
struct DrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain",
        abstract: "Wait until a queue's work is done, with a progress bar; optionally release it then.",
        discussion: """
        Waits until the queue's depth, in-flight tasks and busy workers are all zero, as the controller reports them in the BatchQueue's status, and have stayed so for 5 s (workers report running tasks in heartbeats every 2 s, so an empty reading can come early): only read access to the BatchQueue is needed, not Redis.

        On a terminal a progress bar is redrawn in place: tasks completed since the drain started out of completed plus remaining (queued and in flight), the rate per minute, the ETA and the workers running. Piped, one line per change; -o json, one JSON object per change (queue, done, remaining, total, busyWorkers, workers, ratePerMinute, etaSeconds, drained).

        --release releases your claim once drained and prints what it used. Ctrl-C stops waiting and leaves the claim as it was. To have the controller release it for you instead, claim with --release-when-done.

        Exit status: 0 drained (and released, with --release), 1 timed out (the claim is kept) or the cluster could not be read, 2 bad input, 3 held by someone else (--release), 4 forbidden.
        """
    )

    enum Output: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Argument(help: ArgumentHelp("The queue to wait for.", valueName: "queue"))
    var queue: String

    @Flag(help: "Release your claim once the queue is drained.")
    var release = false

    @Option(help: ArgumentHelp("Give up after this long (exit status 1), such as 30m (default: wait as long as it takes).", valueName: "duration"))
    var timeout: String?

    @Option(name: [.short, .customLong("output")], help: "Output format: text (a bar on a terminal, lines when piped) or json (one object per change).")
    var output: Output = .text

    @OptionGroup(title: "Cluster options") var cluster: ClusterOptions

    func validate() throws {
        if let timeout { _ = try parseDuration(timeout, flag: "--timeout") }
    }

    func run() async throws {
        let limit = try timeout.map { try parseDuration($0, flag: "--timeout") }
        let service = try await cluster.connect()
        let me = release ? try await cluster.identify(service) : nil
        let bar = output == .text && isatty(STDOUT_FILENO) == 1
        let start = service.now()
        let deadline = limit.map { start.adding($0) }
        var tracker = DrainTracker(queue: queue, startedAt: start)
        var shown: DrainProgress?
        var q = try await service.queue(queue)
        // Reads the BatchQueue twice a second (one GET: status carries everything), prints each change.
        while true {
            let now = service.now()
            let p = tracker.progress(q, now: now)
            // The bar is redrawn on any change; a line or JSON object is printed when the counts change.
            if bar ? p != shown : p.counts != shown?.counts {
                Self.show(p, output: output, bar: bar)
                shown = p
            }
            if p.drained { break }
            if let deadline, now >= deadline {
                if bar { print("") }
                throw DrainTimedOut(queue: queue, after: timeout ?? "", remaining: p.remaining)
            }
            try await Task.sleep(for: .milliseconds(500))
            q = try await service.queue(queue)
        }
        if bar { print("") }
        let usage = q.status?.usage?.latest
        print("drained \(queue)" + (usage.map { "; the claim so far: " + UsageText.summary($0) } ?? ""))
        guard release, let me else { return }
        try await ReleaseCommand.releaseAndReport(queue, service: service, me: me, force: false)
    }

    /// One change: the bar redrawn in place on a terminal, else a line, or a JSON object.
    static func show(_ p: DrainProgress, output: Output, bar: Bool) {
        switch (output, bar) {
        case (.json, _): print(p.json)
        case (.text, true): print("\r\u{1B}[K" + p.bar().terminalSafe, terminator: "")
        case (.text, false): print(p.line.terminalSafe)
        }
        fflush(nil)
    }
}

/// `drain --timeout` ran out: exit status 1, the claim kept.
struct DrainTimedOut: BatchctlFailure {
    var queue: String
    var after: String
    var remaining: Int?
    var kind: FailureKind { .runtime }
    var description: String {
        let left = remaining.map { "\($0) task\($0 == 1 ? "" : "s") still queued or in flight" } ?? "work still going on"
        return "timed out after \(after) waiting for \(queue) to drain (\(left)); the claim is kept. Run 'batchctl drain \(queue)' again to keep waiting, or 'batchctl status \(queue)'."
    }
}

/// `batchctl history QUEUE`.
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Show what the last claims of a queue used.",
        discussion: """
        One row per claim, oldest first, the current one last: holder, when claimed and ended and how (Released, Expired, WorkDone: released by the controller after --release-when-done, Replaced), replica-hours (and how many of them idle), peak replicas and tasks completed. The controller keeps the last 20 claims in the BatchQueue's status (status.usage), so the history survives restarts; replica time is counted from the worker pods' start, tasks from the workers' heartbeats.

        -o json prints one object with the queue and its claims.

        Exit status: 0 ok, 1 the cluster could not be read, 2 bad input (such as an unknown queue).
        """
    )

    enum Output: String, ExpressibleByArgument, CaseIterable {
        case table, json
    }

    @Argument(help: ArgumentHelp("The queue.", valueName: "queue"))
    var queue: String

    @Option(name: [.short, .customLong("output")], help: "Output format.")
    var output: Output = .table

    @OptionGroup(title: "Cluster options") var cluster: ClusterOptions

    func run() async throws {
        let service = try await cluster.connect()
        let q = try await service.queue(queue)
        let claims = UsageHistory(queue: q)
        switch output {
        case .table: print(claims.table(now: service.now()), terminator: "")
        case .json: print(try claims.json())
        }
    }
}
