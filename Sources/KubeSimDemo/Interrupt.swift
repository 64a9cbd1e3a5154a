import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The signal that asked the demo to stop (0: none yet).
private let receivedSignal = Atomic<Int32>(0)

/// SIGINT (Ctrl-C) and SIGTERM ask the demo to stop: every wait checks `Interrupt.signal` and ends with
/// `DemoError.interrupted`, then everything the demo started is stopped by pid.
///
/// The handlers only store the signal number. A handler (unlike `SIG_IGN`, which ServiceLifecycle and
/// Dispatch signal sources use) is reset to the default on exec, so the children the demo starts still
/// stop on SIGTERM.
enum Interrupt {
    /// Installs the handlers; call once, before starting anything.
    static func install() {
        Glibc.signal(SIGINT) { receivedSignal.store($0, ordering: .relaxed) }
        Glibc.signal(SIGTERM) { receivedSignal.store($0, ordering: .relaxed) }
    }

    /// The signal received, if any.
    static var signal: Int32? {
        let s = receivedSignal.load(ordering: .relaxed)
        return s == 0 ? nil : s
    }

    /// Throws `DemoError.interrupted` once a signal arrived.
    static func check() throws(DemoError) {
        if let s = signal { throw .interrupted(signal: s) }
    }
}

/// Runs blocking work (waiting for a process to stop or exit) on its own thread, never on the cooperative
/// pool, which the in-process KubeSim and its kubelet need (one thread per core: 2 on a small machine).
enum Blocking {
    /// Runs `body` on a new thread and returns its result.
    static func value<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.start()
        }
    }

    /// Runs `body` on a new thread and waits for it.
    static func run(_ body: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                body()
                continuation.resume()
            }
            thread.start()
        }
    }
}
