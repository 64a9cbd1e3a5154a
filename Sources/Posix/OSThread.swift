import MemberwiseInit
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a thread could not be started: the process (or its container) is out of threads or memory.
@MemberwiseInit(.public)
public struct ThreadStartError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What the thread was for.
    public var name: String
    /// `pthread_create`'s error number.
    public var code: Int32
    public var description: String {
        let reason = strerror(code).map { String(cString: $0) } ?? "error \(code)"
        return "could not start the \(name) thread: \(reason); the process is out of threads or memory "
            + "(raise the container's memory or pids limit, or ulimit -u)"
    }
}

/// Starts a detached OS thread (not one of Swift concurrency's cooperative threads) for blocking work
/// such as hiredis and libcurl calls. Foundation's `Thread` without Foundation.
public enum OSThread {
    /// Runs `body` on a new detached thread; `name` says what it is for (in messages). `stackSize` in bytes
    /// replaces the system's default (8 MiB here) when given.
    /// - Throws: `ThreadStartError` when no thread can be created; `body` then never runs.
    public static func detach(name: String, stackSize: Int? = nil,
                              _ body: @escaping @Sendable () -> Void) throws(ThreadStartError) {
        final class Box: @unchecked Sendable {
            let body: @Sendable () -> Void
            let name: String
            init(_ body: @escaping @Sendable () -> Void, _ name: String) { self.body = body; self.name = name }
        }
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        if let stackSize {
            let rc = pthread_attr_setstacksize(&attributes, stackSize)
            if rc != 0 { throw ThreadStartError(name: name, code: rc) }
        }
        let box = Unmanaged.passRetained(Box(body, name)).toOpaque()
        #if canImport(Glibc)
        var thread = pthread_t()
        #else
        var thread: pthread_t?
        #endif
        let rc = pthread_create(&thread, &attributes, { raw in
            guard let raw else { return nil }
            let box = Unmanaged<Box>.fromOpaque(raw).takeRetainedValue()
            box.body()
            return nil
        }, box)
        if rc != 0 {
            // Running `body` inline instead would block the caller, for ever in the case of a thread's loop.
            Unmanaged<Box>.fromOpaque(box).release()
            throw ThreadStartError(name: name, code: rc)
        }
    }
}
