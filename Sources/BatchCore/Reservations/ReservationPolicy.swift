/// Why a reservation change was refused. Every refusal names the problem and what to do instead;
/// nothing is written.

import MemberwiseInit

public struct ReservationRefusal: BatchctlFailure, Equatable {
    public let kind: FailureKind
    public let message: String
    public init(_ kind: FailureKind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { message }
}

/// The reservation rules behind `batchctl claim`, `extend`, `scale` and `release`: pure functions from
/// the BatchQueue as read, the requester and the time, to the new `spec.reservation` or a refusal.
public struct ReservationPolicy: Sendable {
    /// The namespace's rules (its BatchQueuePolicy, or the embedded defaults).
    public let rules: QueuePolicy
    public init(policy: QueuePolicy) { self.rules = policy }

    /// What a `claim` asks for; nil fields keep the current value (or the default for a new claim).
    @MemberwiseInit(.public)
    public struct ClaimRequest: Sendable, Equatable {
        public var duration: TimeSpan?
        public var replicas: Int?
        public var reason: String?
        public var approvedBand: String?
        /// Let the controller release the claim once its work is done; nil keeps an existing claim's setting.
        public var releaseWhenDone: Bool?
    }

    /// The outcome of `claim`.
    public enum ClaimOutcome: Sendable, Equatable {
        /// The queue was free (or the claim expired): a new reservation.
        case claimed(Reservation)
        /// The requester already held it: the reservation, updated.
        case updated(Reservation)
    }

    /// Whether the queue is free for `user` to claim now: free, expired, or already theirs.
    public func isClaimable(_ queue: BatchQueue, by user: String, now: KubeTime) -> Bool {
        guard let r = queue.spec.reservation else { return true }
        return r.holder == user || r.expiresAt <= now
    }

    /// Claims `queue` for `user`, or updates their own claim.
    /// - Throws: `ReservationRefusal`: `.conflict` when someone else holds it, `.badInput` for a duration,
    ///   replica count or band the rules refuse.
    public func claim(_ queue: BatchQueue, by user: String, request: ClaimRequest, now: KubeTime) throws(ReservationRefusal) -> ClaimOutcome {
        let name = queue.metadata.name ?? queue.queueName
        if let current = queue.spec.reservation, current.holder != user, current.expiresAt > now {
            throw heldByOther(name, current, now: now, suggestion: "Run 'batchctl claim --any' to take a free queue, or ask \(current.holder) to release it.")
        }
        let mine = queue.spec.reservation.flatMap { $0.holder == user && $0.expiresAt > now ? $0 : nil }
        let duration = request.duration ?? (mine == nil ? rules.reservations.defaultDuration : nil)
        if let duration { try checkDuration(duration, flag: "--for") }
        let replicas = request.replicas ?? mine?.replicas ?? rules.bands[0].max
        let band = try checkReplicas(replicas, queue: queue, approved: request.approvedBand ?? mine?.approvedBand)
        let reason = request.reason ?? mine?.reason
        if let reason { try checkReason(reason) }
        if var updated = mine {
            if let duration {
                try checkWithinMaxDuration(updated, until: now.adding(duration), from: now, queue: name, verb: "claiming for \(duration)")
                updated.expiresAt = now.adding(duration)
            }
            updated.replicas = replicas
            updated.reason = reason
            updated.approvedBand = band
            if let done = request.releaseWhenDone { updated.releaseWhenDone = done ? true : nil }
            return .updated(updated)
        }
        return .claimed(Reservation(holder: user, reason: reason, claimedAt: now, expiresAt: now.adding(duration ?? rules.reservations.defaultDuration),
                                    replicas: replicas, approvedBand: band, releaseWhenDone: request.releaseWhenDone == true ? true : nil))
    }

    /// Extends `user`'s claim by `duration` from its current expiry (or from now, if that has passed).
    public func extend(_ queue: BatchQueue, by user: String, duration: TimeSpan, now: KubeTime) throws(ReservationRefusal) -> Reservation {
        var r = try ownReservation(queue, user: user, now: now, verb: "extend")
        let from = max(r.expiresAt, now)
        let newExpiry = from.adding(duration)
        if duration == .zero { throw ReservationRefusal(.badInput, "--for 0s would not extend anything; give a duration such as --for 1d") }
        try checkWithinMaxDuration(r, until: newExpiry, from: from, queue: queue.metadata.name ?? "", verb: "extending by \(duration)")
        r.expiresAt = newExpiry
        return r
    }

    /// Changes `user`'s replica ceiling.
    public func scale(_ queue: BatchQueue, by user: String, replicas: Int, approvedBand: String?, now: KubeTime) throws(ReservationRefusal) -> Reservation {
        var r = try ownReservation(queue, user: user, now: now, verb: "scale")
        r.approvedBand = try checkReplicas(replicas, queue: queue, approved: approvedBand ?? r.approvedBand)
        r.replicas = replicas
        return r
    }

    /// Whether `user` may release the claim: the holder may; others only with `force` (the API server
    /// then decides whether they are an admin). Returns false when the queue is already free.
    public func release(_ queue: BatchQueue, by user: String, force: Bool, now: KubeTime) throws(ReservationRefusal) -> Bool {
        guard let r = queue.spec.reservation else { return false }
        let name = queue.metadata.name ?? queue.queueName
        if r.holder != user && !force && r.expiresAt > now {
            throw heldByOther(name, r, now: now, suggestion: "Ask \(r.holder) to release it, or, if you are an admin (group batchctl:admins), run 'batchctl release \(name) --force'.")
        }
        return true
    }

    // MARK: Rules

    func ownReservation(_ queue: BatchQueue, user: String, now: KubeTime, verb: String) throws(ReservationRefusal) -> Reservation {
        let name = queue.metadata.name ?? queue.queueName
        guard let r = queue.spec.reservation, r.expiresAt > now else {
            throw ReservationRefusal(.badInput, "\(name) is not reserved, so there is nothing to \(verb); run 'batchctl claim \(name)' first")
        }
        guard r.holder == user else {
            throw heldByOther(name, r, now: now, suggestion: "Only \(r.holder) can \(verb) it.")
        }
        return r
    }

    func heldByOther(_ name: String, _ r: Reservation, now: KubeTime, suggestion: String) -> ReservationRefusal {
        let left = TimeText.span(seconds: r.expiresAt.secondsSinceEpoch - now.secondsSinceEpoch)
        let why = r.reason.map { " for \"\($0)\"" } ?? ""
        return ReservationRefusal(.conflict, "\(name) is held by \(r.holder) until \(TimeText.utc(r.expiresAt)) (\(left))\(why). \(suggestion)")
    }

    func checkDuration(_ d: TimeSpan, flag: String) throws(ReservationRefusal) {
        if d == .zero { throw ReservationRefusal(.badInput, "\(flag) 0s is too short; give a duration such as \(flag) 3d") }
        if d > rules.reservations.maxDuration {
            throw ReservationRefusal(.badInput, "\(flag) \(d) is longer than the longest reservation, \(rules.reservations.maxDuration) (BatchQueuePolicy default, spec.reservations.maxDuration); ask for \(rules.reservations.maxDuration) or less and extend later with 'batchctl extend'")
        }
    }

    /// A reservation lasts at most maxDuration from its claimedAt (the admission policy refuses longer ones).
    func checkWithinMaxDuration(_ r: Reservation, until newExpiry: KubeTime, from: KubeTime, queue: String, verb: String) throws(ReservationRefusal) {
        let max = rules.reservations.maxDuration
        let latest = r.claimedAt.adding(max)
        guard newExpiry > latest else { return }
        let room = TimeSpan(milliseconds: Swift.max(0, (latest - from).wholeMilliseconds))
        throw ReservationRefusal(.badInput, "\(verb) would hold \(queue) until \(TimeText.utc(newExpiry)); a reservation lasts at most \(max) from when it was claimed (BatchQueuePolicy default, spec.reservations.maxDuration), so this one can run until \(TimeText.utc(latest)): \(room == .zero ? "it cannot be extended; claim the queue again once it ends" : "extend by at most \(room)")")
    }

    func checkReason(_ reason: String) throws(ReservationRefusal) {
        if reason.utf8.count > 1024 { throw ReservationRefusal(.badInput, "--reason is longer than 1024 bytes; keep it to a line") }
    }

    /// Checks a replica ceiling against the queue's maxReplicas and the bands; returns the band to record
    /// as approved (nil when no approval is involved).
    func checkReplicas(_ n: Int, queue: BatchQueue, approved: String?) throws(ReservationRefusal) -> String? {
        let bands = rules.bands
        let name = queue.metadata.name ?? queue.queueName
        if let approved, !bands.contains(where: { $0.name == approved }) {
            throw ReservationRefusal(.badInput, "--approve-band \(approved) is not a band; the bands are \(bands.map { "\($0.name) (\($0.min)-\($0.max))" }.joined(separator: ", "))")
        }
        if n < 1 { throw ReservationRefusal(.badInput, "--replicas \(n) must be at least 1; to stop the workers, run 'batchctl release \(name)'") }
        let largest = bands[bands.count - 1]
        let maxReplicas = queue.spec.maxReplicas ?? largest.max
        if n > maxReplicas {
            throw ReservationRefusal(.badInput, "--replicas \(n) is above \(name)'s maxReplicas (\(maxReplicas)); ask for \(maxReplicas) or fewer, or ask an admin (group batchctl:admins) to raise spec.maxReplicas")
        }
        let band = rules.band(for: n) ?? largest   // above the largest band: only with the admin's maxReplicas, as the largest band
        guard band.requiresApproval else { return approved }
        guard let approved, let approvedIndex = bands.firstIndex(where: { $0.name == approved }),
              let bandIndex = bands.firstIndex(of: band), approvedIndex >= bandIndex else {
            throw ReservationRefusal(.badInput, "--replicas \(n) is in the \(band.name) band (\(band.min)-\(band.max)), which needs approval: check the database and the services your tasks use can take it, then add --approve-band \(band.name)")
        }
        return approved
    }
}
