/// Exponential backoff, the one rule every retry in batchctl follows (the Kubernetes client's `RetryPolicy`, the
/// webhook sender, the Redis client and heartbeat listener): `initial · 2^(attempt-1)`, capped at `maximum`,
/// optionally jittered to a random 50–100 % of that (client-go's jitter). Pure but for the jitter's randomness.

import MemberwiseInit

@MemberwiseInit(.public)
public struct ExponentialBackoff: Sendable, Equatable {
    /// The delay before the first retry.
    public var initial: Duration
    /// No delay is longer.
    public var maximum: Duration

    /// The un-jittered delay before retry number `attempt` (1 is the first): `initial · 2^(attempt-1)`, capped
    /// (an attempt below 1 counts as 1; a negative `maximum` as zero).
    public func delay(attempt: Int) -> Duration {
        let cap = max(maximum, .zero)
        var d = initial
        for _ in 1..<min(max(attempt, 1), 41) {   // 2^40: no Duration overflow for any sane initial
            if d >= cap { break }
            d = d * 2
        }
        return min(d, cap)
    }

    /// `delay(attempt:)` scaled by a random factor from 50 to 100 %, so that clients that failed together do
    /// not retry together.
    public func jitteredDelay(attempt: Int) -> Duration {
        delay(attempt: attempt) * Double.random(in: 0.5...1.0)
    }
}
