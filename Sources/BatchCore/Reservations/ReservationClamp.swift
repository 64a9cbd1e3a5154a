/// The controller's defence in depth (CEL, in the admission policy, has no clock): a reservation outside the
/// policy is brought back inside it, in one write, and each rule it broke is named in a Warning Event.
public struct ReservationClamp: Sendable, Equatable {
    /// One rule a reservation broke, and what it was clamped to.
    public enum Rule: Sendable, Equatable, CustomStringConvertible {
        /// `claimedAt` was later than the controller's clock (by more than `QueuePolicy.clockSkew`): set to now.
        case claimedInFuture(was: KubeTime, now: KubeTime)
        /// `expiresAt` was later than `claimedAt` + `maxDuration`: set to that.
        case beyondMaxDuration(was: KubeTime, maxDuration: TimeSpan, now: KubeTime)
        /// `replicas` was above the queue's cap (its `maxReplicas`, else the largest band's max): set to the cap.
        case aboveCap(was: Int, cap: Int)

        public var description: String {
            switch self {
            case let .claimedInFuture(was, now):
                return "claimedAt \(TimeText.utc(was)) was in the future; set to \(TimeText.utc(now)), when the controller saw it"
            case let .beyondMaxDuration(was, max, now):
                return "expiresAt \(TimeText.utc(was)) was more than maxDuration (\(max)) after claimedAt; set to \(TimeText.utc(now))"
            case let .aboveCap(was, cap):
                return "replicas \(was) was above the queue's cap (\(cap)); set to \(cap)"
            }
        }
    }

    /// The reservation as it must be stored.
    public var reservation: Reservation
    /// The rules it broke, in the order above.
    public var rules: [Rule]

    /// The Warning Event's note: every rule, naming the policy.
    public var note: String {
        "The reservation of \(reservation.holder) broke the BatchQueuePolicy and was clamped: " + rules.map(\.description).joined(separator: "; ")
            + ". Use 'batchctl claim', 'extend' and 'scale', which follow the policy."
    }
}

extension QueuePolicy {
    /// How far in the future a `claimedAt` may be before it counts as a clamped rule: CLIs set it from their
    /// own clocks, which may run a little ahead of the controller's.
    public static let clockSkew = TimeSpan.seconds(60)

    /// The reservation of `queue` brought inside this policy, or nil when it already is (or has expired: the
    /// controller clears it instead).
    public func clamp(_ queue: BatchQueue, now: KubeTime) -> ReservationClamp? {
        let now = KubeTime(secondsSinceEpoch: now.secondsSinceEpoch)   // stored times have whole seconds
        guard var r = queue.spec.reservation, r.expiresAt > now else { return nil }
        var rules: [ReservationClamp.Rule] = []
        if r.claimedAt.microsecondsSinceEpoch > now.adding(Self.clockSkew).microsecondsSinceEpoch {
            rules.append(.claimedInFuture(was: r.claimedAt, now: now))
            r.claimedAt = now
        }
        let latest = r.claimedAt.adding(reservations.maxDuration)
        if r.expiresAt > latest {
            rules.append(.beyondMaxDuration(was: r.expiresAt, maxDuration: reservations.maxDuration, now: latest))
            r.expiresAt = latest
        }
        let cap = queue.spec.maxReplicas ?? bands[bands.count - 1].max
        if r.replicas > cap, cap >= 1 {
            rules.append(.aboveCap(was: r.replicas, cap: cap))
            r.replicas = cap
        }
        return rules.isEmpty ? nil : ReservationClamp(reservation: r, rules: rules)
    }
}
