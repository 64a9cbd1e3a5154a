#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Starts a detached OS thread (not one of Swift concurrency's cooperative threads) for blocking work
/// such as hiredis and libcurl calls. Foundation's `Thread` without Foundation.
public enum OSThread {
    /// Runs `body` on a new detached thread; `name` says what it is for (kept for debugging).
    public static func detach(name: String, _ body: @escaping @Sendable () -> Void) {
        final class Box: @unchecked Sendable {
            let body: @Sendable () -> Void
            let name: String
            init(_ body: @escaping @Sendable () -> Void, _ name: String) { self.body = body; self.name = name }
        }
        let box = Unmanaged.passRetained(Box(body, name)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        defer { pthread_attr_destroy(&attributes) }
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
            // Creating a thread fails only when the process is out of threads or memory: run inline rather than lose work.
            Unmanaged<Box>.fromOpaque(box).takeRetainedValue().body()
        }
    }
}
