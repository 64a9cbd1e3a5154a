import Posix
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("OSThread")
struct OSThreadTests {
    @Test("a detached thread runs its body")
    func runsTheBody() async throws {
        let ran = Atomic<Bool>(false)
        let done = AsyncStream<Void>.makeStream()
        try OSThread.detach(name: "test") {
            ran.store(true, ordering: .relaxed)
            done.continuation.finish()
        }
        for await _ in done.stream {}
        let didRun = ran.load(ordering: .relaxed)
        #expect(didRun)
    }

    @Test("a thread that cannot be created throws, names the thread, and never runs the body on the caller")
    func failureThrowsAndNeverRunsInline() {
        let ran = Atomic<Bool>(false)
        // No machine has 1 PiB of address space for a stack: pthread_create fails with EAGAIN or ENOMEM.
        #expect {
            try OSThread.detach(name: "redis 127.0.0.1:6379", stackSize: 1 << 50) { ran.store(true, ordering: .relaxed) }
        } throws: { error in
            guard let error = error as? ThreadStartError else { return false }
            return error.description.hasPrefix("could not start the redis 127.0.0.1:6379 thread: ")
                && error.description.contains("out of threads or memory")
        }
        let didRun = ran.load(ordering: .relaxed)
        #expect(!didRun)
    }

    @Test("a stack size the system refuses is reported, not ignored")
    func refusedStackSize() {
        #expect(throws: ThreadStartError(name: "tiny", code: EINVAL)) {
            try OSThread.detach(name: "tiny", stackSize: 1) {}
        }
    }
}
