import BatchCore
import Posix
import Dispatch
import FoundationEssentials
import Synchronization

/// Dedicated threads that run blocking libcurl transfers, each with its own reused easy handle, so blocking
/// never happens on Swift's cooperative pool. Threads start on demand up to `maxThreads`.
///
/// Work goes to the most recently idle thread (a LIFO), so sequential requests keep using one thread, one
/// handle and therefore one kept-alive connection; a thread puts itself back on the idle list *before* it
/// hands the result over, so the caller's next request finds it there.
final class CurlThreadPool: Sendable {
    /// A unit of work: runs on a pool thread with that thread's handle and returns what to do once the thread
    /// is free again (resume a continuation).
    typealias Job = @Sendable (CurlEasy?) -> (@Sendable () -> Void)

    private final class Shared: Sendable {
        struct State {
            var idle: [Int] = []
            var mailboxes: [Job?]
            var pending: [Job] = []
            var started = 0
            /// Slots below `started` whose thread could not be started; the next submit tries again.
            var freeSlots: [Int] = []
            var shutdown = false
        }
        let state: Mutex<State>
        let wakeups: [DispatchSemaphore]
        let name: String

        init(maxThreads: Int, name: String) {
            state = Mutex(State(mailboxes: Array(repeating: nil, count: maxThreads)))
            wakeups = (0..<maxThreads).map { _ in DispatchSemaphore(value: 0) }
            self.name = name
        }

        func run(_ index: Int) {
            // The handle is created on, and never leaves, this thread.
            let easy = try? CurlEasy()
            while true {
                wakeups[index].wait()
                var job = state.withLock { s -> Job? in
                    let j = s.mailboxes[index]
                    s.mailboxes[index] = nil
                    return j
                }
                if job == nil && state.withLock({ $0.shutdown }) { return }
                while let j = job {
                    let deliver = j(easy)
                    job = state.withLock { s -> Job? in
                        if !s.pending.isEmpty { return s.pending.removeFirst() }
                        s.idle.append(index)
                        return nil
                    }
                    deliver()
                }
            }
        }
    }

    private let shared: Shared
    let maxThreads: Int

    init(maxThreads: Int = 4, name: String = "batchctl-curl") {
        self.maxThreads = max(1, maxThreads)
        shared = Shared(maxThreads: self.maxThreads, name: name)
    }

    deinit {
        let started = shared.state.withLock { s -> Int in
            s.shutdown = true
            return s.started
        }
        for i in 0..<started { shared.wakeups[i].signal() }
    }

    /// Queues `job` for a pool thread.
    func submit(_ job: @escaping Job) {
        enum Target { case worker(Int), newThread(Int), queued }
        let target = shared.state.withLock { s -> Target in
            if let w = s.idle.popLast() {
                s.mailboxes[w] = job
                return .worker(w)
            }
            if let w = s.freeSlots.popLast() {
                s.mailboxes[w] = job
                return .newThread(w)
            }
            if s.started < s.mailboxes.count {
                let w = s.started
                s.started += 1
                s.mailboxes[w] = job
                return .newThread(w)
            }
            s.pending.append(job)
            return .queued
        }
        switch target {
        case .worker(let w):
            shared.wakeups[w].signal()
        case .newThread(let w):
            let shared = self.shared
            do {
                try OSThread.detach(name: "\(shared.name)-\(w)") { shared.run(w) }
                shared.wakeups[w].signal()
            } catch {
                // No thread to be had. The slot is free for the next submit to try again, and the job goes to a
                // running thread: an idle one now, or the next to finish. With none running at all, it runs at
                // once without a handle, which fails fast instead of blocking the caller on a transfer.
                enum Fallback { case worker(Int), queued, none }
                let fallback = shared.state.withLock { s -> Fallback in
                    s.mailboxes[w] = nil
                    s.freeSlots.append(w)
                    if let idle = s.idle.popLast() {
                        s.mailboxes[idle] = job
                        return .worker(idle)
                    }
                    if s.started == s.freeSlots.count { return .none }
                    s.pending.append(job)
                    return .queued
                }
                switch fallback {
                case .worker(let idle): shared.wakeups[idle].signal()
                case .queued: break
                case .none: job(nil)()
                }
            }
        case .queued:
            break
        }
    }

    /// Runs `transfer` on a pool thread and waits for it without blocking the cooperative pool. Cancelling the
    /// task sets the flag `transfer` is given (its curl progress callback aborts the transfer), and this throws
    /// `CancellationError` once the thread has returned.
    func run<T: Sendable>(_ transfer: @escaping @Sendable (CurlEasy?, CancelFlag) -> T) async throws(CancellationError) -> T {
        let flag = CancelFlag()
        let result: T = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
                submit { easy in
                    let r = transfer(easy, flag)
                    return { continuation.resume(returning: r) }
                }
            }
        } onCancel: {
            flag.cancel()
        }
        if flag.isCancelled { throw CancellationError() }
        return result
    }

    /// Starts a dedicated thread (not from the pool) for a long transfer such as a watch; it gets its own handle.
    /// When no thread can be started, `body` runs at once with no handle, which it reports as a failure.
    static func spawnDedicated(name: String, _ body: @escaping @Sendable (CurlEasy?) -> Void) {
        do {
            try OSThread.detach(name: name) {
                let easy = try? CurlEasy()
                body(easy)
            }
        } catch {
            body(nil)
        }
    }
}
