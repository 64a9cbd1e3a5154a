import ArgumentParser
import BatchCore
import CMalloc
import Posix
#if canImport(Glibc)
import Glibc
#endif

/// The entry point: the command runs on Swift's cooperative pool while the main thread waits for `Batchctl.leave`
/// to end the process. Not an async main: that hands the main thread to dispatch_main(), whose pthread_exit
/// unwinds the main thread's stack through the binary's unwind tables (.eh_frame_hdr, .eh_frame) at every start,
/// and the pages of them it reads stay resident in the controller for good (about 0.5 MiB; BENCHMARKS.md,
/// "Controller memory"). Nothing in batchctl runs on the main actor.
@main
enum BatchctlMain {
    static func main() {
        Task.detached { await Batchctl.execute() }
        // `execute` always ends the process; pause() returns after each signal handler, so wait again.
        while true { pause() }
    }
}

struct Batchctl: AsyncParsableCommand {
    /// Computed, not stored: the name shown in help is `kubectl batchctl` when run as the kubectl plugin.
    static var configuration: CommandConfiguration { CommandConfiguration(
        commandName: GlobalFlags.commandName(),
        abstract: "Claim, scale and release Celery batch queues on Kubernetes.",
        discussion: """
        batchctl replaces the batch-queue spreadsheet and the manual 'kubectl scale': a controller scales each queue's worker Deployment within safe replica bands while the queue has work and its reservation holds, and back to zero when it is idle, released or expired.

        Cluster options (--kubeconfig, --context, -n/--namespace, --config, -v) go before or after the subcommand, as in kubectl: 'batchctl -n court-listener status' is 'batchctl status -n court-listener'. Linked as kubectl-batchctl on PATH, batchctl is the kubectl plugin 'kubectl batchctl'.

        Exit status: 0 ok, 1 runtime failure, 2 bad usage or input, 3 conflict (held by someone else), 4 forbidden.
        """,
        version: BatchctlVersion.current,
        subcommands: [StatusCommand.self, ClaimCommand.self, ScaleCommand.self, ExtendCommand.self, ReleaseCommand.self,
                      DrainCommand.self, HistoryCommand.self, DescribeCommand.self, DoctorCommand.self, RemindCommand.self, ControllerCommand.self, ProbeCommand.self,
                      ConfigCommand.self]
    ) }

    /// Runs the command, turns every failure into a message and an exit status, and ends the process.
    static func execute() async -> Never {
        // One malloc arena for every thread, set first, before batchctl starts its threads: glibc otherwise
        // gives each thread that meets a locked arena one of its own (up to 8 per core), each keeping its own
        // free pages resident. batchctl's threads allocate little, and the controller's memory is a target
        // (issue 7; BENCHMARKS.md). mallopt returns 0 only for an unknown parameter, which M_ARENA_MAX is not.
        _ = mallopt(M_ARENA_MAX, 1)
        var status: Int32 = 0
        do {
            var command = try parseAsRoot(GlobalFlags.normalize(Array(CommandLine.arguments.dropFirst())))
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            status = Self.report(error)
        }
        leave(status)
    }

    /// Ends the process with `status` once its output is flushed, without running atexit handlers and static
    /// destructors. Threads batchctl does not join (the curl pool's, the cooperative pool's, the Redis
    /// connection's) can still be running while those tear down OpenSSL and other global state, and on rare
    /// occasions that crashed a command at exit after its work was done and printed (SIGSEGV in an OpenSSL
    /// rwlock, a malloc abort; in CI a claim that was written but exited non-zero). Everything batchctl writes
    /// is written by then: stdout is flushed here, standard error is unbuffered, the API server and Redis hold
    /// the rest.
    static func leave(_ status: Int32) -> Never {
        fflush(nil)
        _exit(status)
    }

    /// Prints `error` where it belongs and returns the exit status for it.
    static func report(_ error: any Error) -> Int32 {
        if let failure = error as? any BatchctlFailure {
            printError("error: \(failure.description)")
            switch failure.kind {
            case .runtime: return 1
            case .badInput: return 2
            case .conflict: return 3
            case .forbidden: return 4
            }
        }
        let code = exitCode(for: error)
        let message = fullMessage(for: error)
        if code == .success {
            if !message.isEmpty { print(message.terminalSafeLines) }
            return 0
        }
        if !message.isEmpty { printError(message) }
        // ArgumentParser uses 64 (EX_USAGE) for bad usage; batchctl promises 2.
        return code == .validationFailure ? 2 : code.rawValue
    }
}

/// Writes a line to standard error (Posix's writer: all of it, retried on EINTR).
func printError(_ line: String) {
    StandardError.write(line.terminalSafeLines + "\n")   // messages may quote user-supplied text
}
