#if canImport(Glibc)
import Glibc
#endif

/// The one source of wall-clock time ("now"): the controller's wiring makes one (`KubeTime.now` in
/// production) and passes it to the Reconciler (the time of a pass, given to `decide` as data), the Redis
/// observer (heartbeat freshness), the cluster adapter and the webhook notifier; tests pass a fixed or
/// stepped clock instead. `decide` and the rest of BatchCore never read a clock.
///
/// Intervals and sleeps (the poll loop, Lease expiry judged locally, backoffs) use `ContinuousClock`
/// instead: it is monotonic, so a wall-clock step (NTP, a VM resumed) cannot stretch or shrink them. Wall
/// time is for instants written to or compared with the cluster (`status.lastActiveAt`, reservations).
public typealias WallClock = @Sendable () -> KubeTime

extension KubeTime {
    /// The current wall-clock time (`CLOCK_REALTIME`), to microseconds. Read through a `WallClock`, so
    /// tests can replace it.
    public static var now: KubeTime {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return KubeTime(microsecondsSinceEpoch: Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1_000)
    }

    /// This instant rounded up to a whole second: how `decide` stamps the status times it later compares
    /// against (`lastActiveAt`, `lastScaleUpAt`, ...). The API server stores `metav1.Time` to whole seconds,
    /// dropping the fraction, so a stamp with a fraction would read back up to a second early and a queue
    /// could sleep (or ramp) before its interval; rounded up, what is stored is what was stamped.
    public var roundedUpToSecond: KubeTime {
        let (q, r) = microsecondsSinceEpoch.quotientAndRemainder(dividingBy: 1_000_000)
        // The last second before Int64's end has no whole second after it: left as it is.
        guard r != 0, q < Int64.max / 1_000_000 else { return self }
        // Toward +∞: a positive remainder adds a second; a negative one (before 1970) is already rounded up by truncation.
        return r > 0 ? KubeTime(secondsSinceEpoch: q + 1) : KubeTime(secondsSinceEpoch: q)
    }
}
