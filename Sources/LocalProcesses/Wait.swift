import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Bounded polling: every loop in a test has a limit in time.
public enum Wait {
    /// Polls `condition` every `interval` until it holds or `timeout` passes; returns whether it held.
    @discardableResult
    public static func until(timeout: Duration, interval: Duration = .milliseconds(50),
                             _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            if try condition() { return true }
            if ContinuousClock.now >= deadline { return false }
            let ms = interval.components.seconds * 1000 + interval.components.attoseconds / 1_000_000_000_000_000
            usleep(UInt32(max(1, ms)) * 1000)
        }
    }

    /// Async flavour of `until`.
    @discardableResult
    public static func until(timeout: Duration, interval: Duration = .milliseconds(50),
                             _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            if try await condition() { return true }
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: interval)
        }
    }
}
