import BatchCore
import FoundationEssentials
import KubeClient

/// The cluster side of `claim`, `extend`, `scale` and `release`: read the BatchQueue, apply
/// `ReservationPolicy`, and write the new `spec.reservation` as one merge patch carrying the resourceVersion
/// that was read. A lost race (409) re-reads and applies the policy again, so the loser either reports the
/// winner (the policy's conflict message) or, when only status changed in between, writes again.
///
/// Nothing is written when the policy refuses, so every refusal leaves the object as it was.
public struct ReservationService: Sendable {
    /// The API client, as the user (their kubeconfig credentials).
    public let client: KubeClient
    /// The reservation rules, with the cluster's bands and limits (its BatchQueuePolicy).
    public let policy: ReservationPolicy
    /// The namespace of the BatchQueue objects.
    public let namespace: String
    /// The clock (tests may fix it).
    public var now: @Sendable () -> KubeTime
    /// Verbose progress lines (`-v`); ignored by default.
    public var log: @Sendable (String) -> Void

    /// How many times a write is tried when the object keeps changing under it.
    public static let maxAttempts = 8

    /// A service for the BatchQueues in `namespace`, with the rules of `policy` (see `connect`).
    public init(client: KubeClient, policy: QueuePolicy, namespace: String,
                now: @escaping @Sendable () -> KubeTime = KubeTime.current, log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.client = client
        self.policy = ReservationPolicy(policy: policy)
        self.namespace = namespace
        self.now = now
        self.log = log
    }

    // MARK: Reading

    /// GETs the BatchQueue `name`; an unknown name is bad input naming the queues that exist.
    public func queue(_ name: String) async throws -> BatchQueue {
        do {
            return try await client.batchQueue(name, namespace: namespace)
        } catch let error as KubeError where error.isNotFound {
            throw try await unknownQueue(name)
        }
    }

    /// A service with the rules the cluster holds for `namespace`: its BatchQueuePolicy `default`, or the
    /// embedded defaults when there is none (logged) or the user may not read it (`warn`: the API server still
    /// enforces the cluster's rules). An invalid policy is an error naming its problems.
    public static func connect(client: KubeClient, namespace: String, now: @escaping @Sendable () -> KubeTime = KubeTime.current,
                               log: @escaping @Sendable (String) -> Void = { _ in },
                               warn: @escaping @Sendable (String) -> Void = { _ in }) async throws -> ReservationService {
        let policy: QueuePolicy?
        do {
            policy = try await client.queuePolicy(namespace: namespace)
        } catch let error as KubeError where error.isForbidden {
            warn("you may not read the BatchQueuePolicy of \(namespace), so batchctl checks against the embedded defaults; the API server enforces the cluster's rules (ask an admin for get on batchqueuepolicies)")
            log("reading the BatchQueuePolicy: \(error)")
            policy = nil
        }
        log(policy == nil ? "no BatchQueuePolicy default in \(namespace): the embedded defaults apply" : "rules from BatchQueuePolicy \(namespace)/default")
        return ReservationService(client: client, policy: policy ?? .defaults, namespace: namespace, now: now, log: log)
    }

    /// LISTs the BatchQueues, in the cluster's `claim --any` order (the policy's `claimOrder`), others after them by name.
    public func queues() async throws -> [BatchQueue] {
        let list: KubeList<BatchQueue>
        do {
            list = try await client.batchQueues(namespace: namespace)
        } catch let error as KubeError where error.isNotFound {
            throw ResourceNotInstalled(server: client.transport.config.server)
        }
        return ordered(list.items)
    }

    /// `queues` sorted by their position in the policy's `claimOrder`, unlisted ones after them by name.
    public func ordered(_ queues: [BatchQueue]) -> [BatchQueue] {
        let order = Dictionary(policy.rules.claimOrder.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        return queues.sorted { a, b in
            let (na, nb) = (a.metadata.name ?? "", b.metadata.name ?? "")
            let (oa, ob) = (order[na] ?? Int.max, order[nb] ?? Int.max)
            return oa != ob ? oa < ob : na < nb
        }
    }

    func unknownQueue(_ name: String) async throws -> UnknownQueue {
        let known = try await queues().compactMap(\.metadata.name)
        return UnknownQueue(name: name, namespace: namespace, known: known)
    }

    // MARK: Writing

    /// What `claim` did.
    public struct ClaimResult: Sendable, Equatable {
        /// The object as stored after the write.
        public var queue: BatchQueue
        /// `.claimed` for a new claim, `.updated` when the requester already held it.
        public var outcome: ReservationPolicy.ClaimOutcome
    }

    /// Claims `name` for `user` (or updates their own claim).
    public func claim(_ name: String, by user: String, request: ReservationPolicy.ClaimRequest) async throws -> ClaimResult {
        var outcome: ReservationPolicy.ClaimOutcome?
        let stored = try await write(name, verb: "claim", user: user) { queue, now in
            let decided = try policy.claim(queue, by: user, request: request, now: now)
            outcome = decided
            switch decided {
            case .claimed(let r), .updated(let r): return r
            }
        }
        guard let outcome else { throw UnexpectedState(message: "claim finished without a decision") }
        return ClaimResult(queue: stored, outcome: outcome)
    }

    /// Claims the first free (or expired) queue, in the cluster's order; a queue lost to a concurrent
    /// claim is skipped. When none is free: a conflict listing who holds each queue.
    public func claimAny(by user: String, request: ReservationPolicy.ClaimRequest) async throws -> ClaimResult {
        let all = try await queues()
        let now = self.now()
        for q in all {
            guard let name = q.metadata.name, q.spec.paused != true else { continue }
            if let r = q.spec.reservation, r.expiresAt > now { continue }   // held (also by the requester): not free
            do {
                return try await claim(name, by: user, request: request)
            } catch let refusal as ReservationRefusal where refusal.kind == .conflict {
                log("\(name) was taken while batchctl tried to claim it: \(refusal.message); trying the next queue")
            } catch let taken as ExpiredClaimPending {
                log("\(name): \(taken.description); trying the next queue")
            }
        }
        throw NoFreeQueue(queues: try await queues(), now: self.now(), user: user)
    }

    /// Extends `user`'s claim on `name` by `duration`; returns the reservation as stored.
    public func extend(_ name: String, by user: String, duration: TimeSpan) async throws -> Reservation {
        try stored(try await write(name, verb: "extend", user: user) { queue, now in
            try policy.extend(queue, by: user, duration: duration, now: now)
        })
    }

    /// Changes `user`'s replica ceiling on `name`; returns the reservation as stored.
    public func scale(_ name: String, by user: String, replicas: Int, approvedBand: String?) async throws -> Reservation {
        try stored(try await write(name, verb: "scale", user: user) { queue, now in
            try policy.scale(queue, by: user, replicas: replicas, approvedBand: approvedBand, now: now)
        })
    }

    func stored(_ queue: BatchQueue) throws -> Reservation {
        guard let r = queue.spec.reservation else {
            throw UnexpectedState(message: "\(queue.metadata.name ?? "the queue") has no reservation after the write")
        }
        return r
    }

    /// What `release` did.
    public enum ReleaseResult: Sendable, Equatable {
        /// The claim was removed; this was it, and what it used (the usage ledger as the controller last wrote it).
        case released(Reservation, ClaimUsage?)
        /// The queue was already free: nothing written.
        case alreadyFree
    }

    /// Releases the claim on `name`: the holder may; others only with `force`, and then the API server decides
    /// (a 403 becomes `ReleaseForbidden`, naming who may).
    public func release(_ name: String, by user: String, force: Bool) async throws -> ReleaseResult {
        for attempt in 1...Self.maxAttempts {
            let old = try await queue(name)
            let now = self.now()
            guard try policy.release(old, by: user, force: force, now: now), let held = old.spec.reservation else {
                log("\(name) is free: nothing to release")
                return .alreadyFree
            }
            var new = old
            new.spec.reservation = nil
            do {
                log("releasing \(name) (resourceVersion \(old.metadata.resourceVersion ?? "?"))")
                _ = try await client.updateBatchQueue(new, from: old)
                let usage = old.status?.usage?.current.flatMap { $0.holder == held.holder && $0.claimedAt == held.claimedAt ? $0 : nil }
                return .released(held, usage)
            } catch let error as KubeError where error.isConflict {
                log("\(name) changed since it was read (\(error.status?.message ?? "409"))\(attempt < Self.maxAttempts ? "; reading it again" : "")")
            } catch let error as KubeError where error.isForbidden {
                throw ReleaseForbidden(queue: name, holder: held.holder, user: user, serverMessage: error.status?.message)
            }
        }
        throw KeptChanging(queue: name, attempts: Self.maxAttempts)
    }

    /// The read → decide → conditional write loop shared by claim, extend and scale.
    func write(_ name: String, verb: String, user: String,
               decide: (BatchQueue, KubeTime) throws -> Reservation) async throws -> BatchQueue {
        for attempt in 1...Self.maxAttempts {
            let old = try await queue(name)
            let now = self.now()
            if old.spec.paused == true { log("\(name) is paused by an admin: the controller will not scale it until it is unpaused") }
            var new = old
            new.spec.reservation = try decide(old, now)
            if new == old {
                log("\(name) already has that reservation: nothing to write")
                return old
            }
            do {
                log("\(verb) \(name): writing spec.reservation with resourceVersion \(old.metadata.resourceVersion ?? "?")")
                return try await client.updateBatchQueue(new, from: old)
            } catch let error as KubeError where error.isConflict {
                log("\(name) changed since it was read (\(error.status?.message ?? "409"))\(attempt < Self.maxAttempts ? "; reading it again" : "")")
            } catch let error as KubeError where error.isForbidden {
                if let previous = old.spec.reservation, previous.expiresAt <= now {
                    throw ExpiredClaimPending(queue: name, previous: previous, serverMessage: error.status?.message)
                }
                throw WriteForbidden(queue: name, verb: verb, user: user, serverMessage: error.status?.message)
            }
        }
        throw KeptChanging(queue: name, attempts: ReservationService.maxAttempts)
    }
}

extension KubeTime {
    /// The current time in whole seconds, the precision BatchQueue times are stored with (RFC 3339 without
    /// fractions): a claim's `claimedAt` and `expiresAt` read back as they were decided.
    public static let current: @Sendable () -> KubeTime = {
        KubeTime(secondsSinceEpoch: Int64(Date().timeIntervalSince1970.rounded(.down)))
    }
}
