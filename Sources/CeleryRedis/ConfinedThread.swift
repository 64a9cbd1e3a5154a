import BatchCore
import Posix
import Dispatch
import FoundationEssentials
import Synchronization

/// A dedicated OS thread that owns a non-Sendable `State` (created on the thread) and runs submitted
/// jobs on it one at a time, in order. Blocking C calls (hiredis) run here, never on Swift's
/// cooperative thread pool.
final class ConfinedThread<State>: Sendable {
    typealias Job = @Sendable (State) -> Void

    private struct Queue {
        var jobs: [Job] = []
        var stopping = false
    }

    /// The job queue shared by submitters and the thread.
    private final class Mailbox: Sendable {
        let queue = Mutex(Queue())
        let wakeup = DispatchSemaphore(value: 0)
    }

    private let mailbox = Mailbox()

    /// Why the thread could not be started, if it could not: every `run` then fails with the error made from this.
    let startFailure: ThreadStartError?

    /// Starts the thread; `makeState` runs on it before any job. When no thread can be started, the instance
    /// is stopped from the start (`startFailure` says why) rather than running anything on the caller's thread.
    init(name: String, makeState: @escaping @Sendable () -> State) {
        do {
            try OSThread.detach(name: name) { [mailbox] in Self.serve(mailbox, makeState: makeState) }
            startFailure = nil
        } catch {
            mailbox.queue.withLock { $0.stopping = true }
            startFailure = error
        }
    }

    /// The thread's loop: runs jobs in order until stopped and the queue is empty.
    private static func serve(_ mailbox: Mailbox, makeState: @Sendable () -> State) {
        let state = makeState()
        while true {
            mailbox.wakeup.wait()
            let next: Job? = mailbox.queue.withLock { q in
                if q.jobs.isEmpty { return nil }
                return q.jobs.removeFirst()
            }
            guard let next else {
                if mailbox.queue.withLock({ $0.stopping }) { break }
                continue
            }
            next(state)
        }
        withExtendedLifetime(state) {}
    }

    /// Queues `job`; returns false when the thread is stopping (the job will not run).
    @discardableResult
    func submit(_ job: @escaping Job) -> Bool {
        let accepted = mailbox.queue.withLock { q -> Bool in
            if q.stopping { return false }
            q.jobs.append(job)
            return true
        }
        if accepted { mailbox.wakeup.signal() }
        return accepted
    }

    /// Runs `body` on the thread and returns its result.
    /// `stopped` makes the error thrown when the thread is stopping, or was never started (its argument then
    /// says why).
    func run<T: Sendable, E: Error>(_ body: @escaping @Sendable (State) -> Result<T, E>,
                                    stopped: (ThreadStartError?) -> E) async throws(E) -> T {
        let stoppedError = stopped(startFailure)
        let result: Result<T, E> = await withCheckedContinuation { continuation in
            let accepted = submit { state in continuation.resume(returning: body(state)) }
            if !accepted { continuation.resume(returning: .failure(stoppedError)) }
        }
        return try result.get()
    }

    /// Lets queued jobs finish, then ends the thread (which releases the state).
    func stop() {
        let first = mailbox.queue.withLock { q -> Bool in
            defer { q.stopping = true }
            return !q.stopping
        }
        if first { mailbox.wakeup.signal() }
    }

    deinit { stop() }
}
