import BatchCore
import Testing

/// The one exponential backoff (Kubernetes client, webhook sender, Redis client and heartbeat listener).
@Suite struct BackoffTests {
    @Test(arguments: [
        (0, Duration.milliseconds(100)), (1, .milliseconds(100)), (2, .milliseconds(200)), (4, .milliseconds(800)),
        (7, .milliseconds(5_000)), (1_000_000, .milliseconds(5_000)),
    ])
    func doublesFromInitialUpToTheMaximum(attempt: Int, expected: Duration) {
        #expect(ExponentialBackoff(initial: .milliseconds(100), maximum: .seconds(5)).delay(attempt: attempt) == expected)
    }

    @Test func aNegativeMaximumMeansNoWaitAndJitterStaysWithinHalfToAll() {
        #expect(ExponentialBackoff(initial: .milliseconds(100), maximum: .milliseconds(-1)).delay(attempt: 3) == .zero)
        let b = ExponentialBackoff(initial: .seconds(1), maximum: .seconds(30))
        for attempt in 1...8 {
            let d = b.jitteredDelay(attempt: attempt)
            #expect(d <= b.delay(attempt: attempt) && d >= b.delay(attempt: attempt) / 2)
        }
    }
}
