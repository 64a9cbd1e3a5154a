/// In-flight entries of one queue delivered in the same second (kombu's `unacked_index` score, a Unix time).

import MemberwiseInit

@MemberwiseInit(.public)
public struct DeliveryGroup: Sendable, Hashable, Codable {
    /// Unix time of delivery, whole seconds (rounded down).
    public var second: Int64
    /// Entries delivered in that second.
    public var count: Int
}

/// In-flight entries of one queue that no live worker can hold ("stranded"), and when Celery puts the
/// first of them back on the queue.
@MemberwiseInit(.public)
public struct StrandedTasks: Sendable, Hashable {
    /// Entries delivered before every live worker of the queue's Deployment started.
    public var count: Int
    /// The oldest stranded entry's delivery time (whole seconds); nil when there is none.
    public var firstDeliveredAt: KubeTime?

    /// Delivery seconds beyond ±this are clamped (Redis data is untrusted; microseconds must fit Int64).
    public static let maxSeconds: Int64 = 9_000_000_000_000

    public static let none = StrandedTasks(count: 0, firstDeliveredAt: nil)

    /// Clock skew allowed between the worker hosts (which score `unacked_index` with their own clock) and
    /// the Kubernetes node that records a container's start: an entry counts as stranded only when it was
    /// delivered at least this long before the earliest live worker started.
    public static let skewMargin: Int64 = 5

    /// Classifies a queue's in-flight entries by delivery time. A worker can hold only messages
    /// delivered to it after it started, so an entry delivered (plus `skewMargin` seconds, plus the second
    /// the time was rounded down by) before the earliest start among the live workers, or with no live
    /// worker at all, is held by nobody: its worker died (SIGKILL, OOM, eviction) and kombu redelivers it
    /// only after `visibility_timeout`. Everything else may be held (reserved, prefetched, ETA) and stays
    /// in-flight work. Pure.
    /// - Parameters:
    ///   - deliveries: the queue's in-flight delivery times, oldest first (see `DeliveryGroup`).
    ///   - workerStarts: when each live worker of the queue's Deployment started (its container's
    ///     `state.running.startedAt`).
    public static func classify(deliveries: [DeliveryGroup], workerStarts: [KubeTime]) -> StrandedTasks {
        let threshold: Int64
        if let earliest = workerStarts.min() {
            // Delivered at second s means within [s, s + 1): stranded when s + 1 + margin <= start.
            threshold = earliest.secondsSinceEpoch &- 1 &- skewMargin
        } else {
            threshold = .max
        }
        var count = 0
        var first: Int64?
        for g in deliveries where g.second <= threshold && g.count > 0 {
            count = count.addingReportingOverflow(g.count).overflow ? .max : count + g.count
            first = min(first ?? g.second, g.second)
        }
        return StrandedTasks(count: count, firstDeliveredAt: first.map { KubeTime(secondsSinceEpoch: min(max($0, -maxSeconds), maxSeconds)) })
    }
}
