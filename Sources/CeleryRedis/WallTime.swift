import BatchCore
import FoundationEssentials

extension KubeTime {
    /// The same instant as a Foundation `Date` (for the heartbeat registry and `batchctl probe`'s JSON).
    var date: Date { Date(timeIntervalSince1970: Double(microsecondsSinceEpoch) / 1_000_000) }
}
