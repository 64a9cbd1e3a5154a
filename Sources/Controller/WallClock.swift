import BatchCore
#if canImport(Glibc)
import Glibc
#endif

extension KubeTime {
    /// The current wall-clock time (the controller reads the clock here and passes it into `decide` as data).
    public static var now: KubeTime {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return KubeTime(microsecondsSinceEpoch: Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1_000)
    }
}
