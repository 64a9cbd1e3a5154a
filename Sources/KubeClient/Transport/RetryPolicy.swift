import BatchCore
import MemberwiseInit

/// When and how long to wait before retrying, client-go style: up to `maxRetries` retries; a server's
/// `Retry-After` is honoured (capped at `maxRetryAfter`); otherwise jittered exponential backoff from
/// `initialBackoff`, doubling up to `maxBackoff`.
@MemberwiseInit(.public)
public struct RetryPolicy: Sendable, Equatable {
    /// Retries after the first attempt (client-go: 10).
    public var maxRetries: Int = 10
    public var initialBackoff: Duration = .milliseconds(800)
    public var maxBackoff: Duration = .seconds(30)
    /// The longest `Retry-After` obeyed; larger values are clamped.
    public var maxRetryAfter: Duration = .seconds(60)

    /// client-go's defaults.
    public static let standard = RetryPolicy()
    /// No retries at all.
    public static let none = RetryPolicy(maxRetries: 0)

    /// The un-jittered delay before retry number `attempt` (0-based): initial × 2^attempt, capped (`ExponentialBackoff`).
    public func baseDelay(attempt: Int) -> Duration {
        ExponentialBackoff(initial: initialBackoff, maximum: maxBackoff).delay(attempt: max(attempt, 0) + 1)
    }

    /// The delay before retry `attempt` with jitter: uniformly between half and all of `baseDelay`.
    public func delay(attempt: Int, retryAfter: Duration?) -> Duration {
        if let retryAfter { return min(retryAfter, maxRetryAfter) }
        return ExponentialBackoff(initial: initialBackoff, maximum: maxBackoff).jitteredDelay(attempt: max(attempt, 0) + 1)
    }
}

/// Exponential backoff state for long-running loops (the watch reflector): doubles on each failure and
/// resets after `resetAfter` without one, as client-go's reflector (800 ms → 30 s, reset after 2 min).
public struct Backoff: Sendable {
    public var policy: RetryPolicy
    public var resetAfter: Duration
    private var failures = 0
    private var lastFailure: ContinuousClock.Instant?

    public init(policy: RetryPolicy, resetAfter: Duration = .seconds(120)) {
        self.policy = policy
        self.resetAfter = resetAfter
    }

    /// Records a failure and returns how long to wait before the next try.
    public mutating func next(now: ContinuousClock.Instant = .now) -> Duration {
        if let last = lastFailure, now - last > resetAfter { failures = 0 }
        lastFailure = now
        defer { failures += 1 }
        return policy.delay(attempt: failures, retryAfter: nil)
    }

    /// Forgets past failures.
    public mutating func reset() {
        failures = 0
        lastFailure = nil
    }
}
