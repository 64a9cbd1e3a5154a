import BatchCore
import Logging
import MemberwiseInit
import Synchronization

/// The fields of a `coordination.k8s.io/v1` Lease that leader election uses.
@MemberwiseInit(.public)
public struct LeaseRecord: Sendable, Equatable {
    public var holderIdentity: String?
    public var leaseDurationSeconds: Int
    public var acquireTime: KubeTime?
    public var renewTime: KubeTime?
    public var leaseTransitions: Int
    /// As read; sent back on update, so a lost race is a conflict.
    public var resourceVersion: String?
    /// `spec.strategy` and `spec.preferredHolder` (coordinated leader election) as read, written back unchanged
    /// so an update does not drop what another tool set (client-go's LeaderElectionRecord carries them too).
    public var strategy: String?
    public var preferredHolder: String?
}

/// Errors a `LeaseStore` reports in a way leader election acts on.
public enum LeaseStoreError: Error, Equatable {
    /// Someone else wrote the Lease since it was read (409).
    case conflict
}

/// Reads and writes the one Lease (get, create, update with resourceVersion), as client-go's LeaseLock.
public protocol LeaseStore: Sendable {
    /// The Lease, or nil when it does not exist.
    func get() async throws -> LeaseRecord?
    /// Creates it; `LeaseStoreError.conflict` when it already exists.
    func create(_ record: LeaseRecord) async throws -> LeaseRecord
    /// Replaces it, with `record.resourceVersion` as precondition; `LeaseStoreError.conflict` when stale.
    func update(_ record: LeaseRecord) async throws -> LeaseRecord
}

/// Leader election on a Lease with client-go's algorithm and timings (15 s / 10 s / 2 s): validity is
/// judged by the local clock from when a change of the Lease was last observed, never by comparing the
/// remote renewTime with the local clock; on shutdown the leader releases the Lease so a standby takes
/// over at once.
///
/// Fencing: every Lease call has a deadline (a leader's ends when its lease stops being provably valid,
/// a standby's after `renewDeadline`), and `isLeader` is true only until `renewDeadline` after the last
/// successful renewal was *sent*. A standby takes over no earlier than `leaseDuration` after it saw that
/// renewal, so a leader that cannot renew (its writes to the Lease delayed or lost) stops counting as
/// leader `leaseDuration − renewDeadline` before anyone else could lead. Writers check `isLeader` before
/// each write (see `Reconciler`'s `writeFence`).
public actor LeaderElector {
    @MemberwiseInit(.public)
    public struct Timings: Sendable {
        public var leaseDuration: Duration = .seconds(15)
        public var renewDeadline: Duration = .seconds(10)
        public var retryPeriod: Duration = .seconds(2)
        /// A rule of client-go's that the timings break.
        public enum Problem: Sendable, Equatable {
            case retryPeriodNotPositive
            case renewDeadlineTooShort
            case leaseDurationTooShort

            /// The rule, calling the durations by these names (the fields', or the flags that set them).
            public func message(leaseDuration: String = "leaseDuration", renewDeadline: String = "renewDeadline",
                                retryPeriod: String = "retryPeriod") -> String {
                switch self {
                case .retryPeriodNotPositive: "\(retryPeriod) must be positive"
                case .renewDeadlineTooShort: "\(renewDeadline) must be more than 1.2 × \(retryPeriod)"
                case .leaseDurationTooShort: "\(leaseDuration) must be longer than \(renewDeadline)"
                }
            }
        }

        /// client-go's checks: leaseDuration > renewDeadline > 1.2 × retryPeriod > 0.
        public var problem: Problem? {
            if retryPeriod <= .zero { return .retryPeriodNotPositive }
            if renewDeadline <= retryPeriod * 1.2 { return .renewDeadlineTooShort }
            if leaseDuration <= renewDeadline { return .leaseDurationTooShort }
            return nil
        }
    }

    public let identity: String
    let store: any LeaseStore
    let timings: Timings
    let now: @Sendable () -> KubeTime
    let monotonic: @Sendable () -> ContinuousClock.Instant
    let logger: Logger
    private let leading = Atomic<Bool>(false)
    /// Until when (local clock) this replica's leadership is provably valid.
    private let validUntil = Mutex<ContinuousClock.Instant?>(nil)

    var observed: LeaseRecord?
    var observedAt: ContinuousClock.Instant?
    var lastRenewal: ContinuousClock.Instant?

    /// - Parameters:
    ///   - identity: unique per process, such as `<pod name>_<random>`.
    ///   - now: wall clock for the Lease's times; `monotonic`: local clock for expiry judgments.
    public init(identity: String, store: any LeaseStore, timings: Timings = Timings(), logger: Logger = Logger(label: "batchctl.leader"),
                now: @escaping @Sendable () -> KubeTime, monotonic: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.identity = identity
        self.store = store
        self.timings = timings
        self.now = now
        self.monotonic = monotonic
        self.logger = logger
    }

    /// Whether this process holds the Lease and can prove it (readable from any thread, for metrics,
    /// health and the write fence): false from `renewDeadline` after the last successful renewal was sent.
    public nonisolated var isLeader: Bool {
        guard leading.load(ordering: .acquiring), let until = validUntil.withLock({ $0 }) else { return false }
        return monotonic() < until
    }

    /// A Lease call took longer than its deadline (it was cancelled).
    struct LeaseCallTimeout: Error, CustomStringConvertible {
        let limit: Duration
        var description: String { "the Lease call took longer than \(limit) and was abandoned" }
    }

    /// The deadline for the next Lease call: a leader's ends when its leadership stops being provable
    /// (so a slow renewal never keeps it writing), a standby's after `renewDeadline`.
    func callDeadline() -> Duration {
        guard leading.load(ordering: .acquiring), let until = validUntil.withLock({ $0 }) else { return timings.renewDeadline }
        return min(max(until - monotonic(), .milliseconds(1)), timings.renewDeadline)
    }

    /// Runs one Lease call, abandoning (cancelling) it at `callDeadline()`.
    func call<T: Sendable>(_ op: @escaping @Sendable (any LeaseStore) async throws -> T) async throws -> T {
        let limit = callDeadline()
        let store = self.store
        return try await withThrowingTaskGroup(of: LeaseCallOutcome<T>.self) { group in
            group.addTask { .value(try await op(store)) }
            group.addTask {
                try await Task.sleep(for: limit)
                return .timedOut
            }
            defer { group.cancelAll() }
            guard case let .value(v)? = try await group.next() else { throw LeaseCallTimeout(limit: limit) }
            return v
        }
    }

    /// One client-go `tryAcquireOrRenew`. Returns whether this process leads afterwards.
    @discardableResult
    public func tryAcquireOrRenew() async -> Bool {
        let t = now()
        let local = monotonic()
        let seconds = Int(timings.leaseDuration.components.seconds)
        if leading.load(ordering: .acquiring) && !isLeader {
            logger.error("The leader Lease was not renewed within the renew deadline; stopped writing")
            becomeLeader(false)
        }
        // Fast path: we lead and our record is current; renew with the cached resourceVersion.
        if isLeader, var mine = observed, mine.holderIdentity == identity {
            mine.renewTime = t
            do {
                let stored = try await call { [mine] in try await $0.update(mine) }
                renewed(stored, sentAt: local)
                return isLeader
            } catch {
                logger.debug("Fast renewal failed; re-reading the Lease", metadata: ["error": "\(error)"])   // as client-go: fall through
            }
        }
        let current: LeaseRecord?
        do {
            current = try await call { try await $0.get() }
        } catch {
            logger.warning("Could not read the leader Lease", metadata: ["error": "\(error)"])
            return stillLeading()
        }
        guard let current else {
            let fresh = LeaseRecord(holderIdentity: identity, leaseDurationSeconds: seconds, acquireTime: t, renewTime: t, leaseTransitions: 0)
            do {
                let created = try await call { try await $0.create(fresh) }
                renewed(created, sentAt: local)
                becomeLeader(true)
                return isLeader
            } catch {
                return stillLeading()
            }
        }
        // Observed when the read returned (never earlier: a renewal that read shows may have been sent
        // after the read was), so a standby never counts a lease as expired before its holder stops writing.
        let seen = monotonic()
        if current != observed { record(current, at: seen) }
        let holder = current.holderIdentity ?? ""
        let expiresAt = (observedAt ?? seen) + .seconds(current.leaseDurationSeconds)
        if !holder.isEmpty && holder != identity && expiresAt > seen {
            becomeLeader(false)
            return false
        }
        var next = current
        next.holderIdentity = identity
        next.leaseDurationSeconds = seconds
        next.renewTime = t
        if holder != identity {
            next.acquireTime = t
            next.leaseTransitions = current.leaseTransitions + 1
        }
        let sent = monotonic()   // after the read: validity counts from when this write was sent
        do {
            let updated = try await call { [next] in try await $0.update(next) }
            renewed(updated, sentAt: sent)
            becomeLeader(true)
            return isLeader
        } catch {
            return stillLeading()
        }
    }

    /// Runs the election until the task is cancelled: acquire, then renew every retry period; gives up
    /// leadership when no renewal succeeded within the renew deadline. Call `release()` afterwards, from a
    /// task that is not cancelled (a cancelled task's requests are cancelled too).
    public func run() async {
        while !Task.isCancelled {
            await tryAcquireOrRenew()
            let jitter = isLeader ? 1.0 : Double.random(in: 1.0...1.2)
            do {
                try await Task.sleep(for: timings.retryPeriod * jitter)
            } catch {
                break   // cancelled
            }
        }
    }

    /// Hands the Lease back (holder "", duration 1 s) so a standby takes over at once.
    public func release() async {
        guard leading.load(ordering: .acquiring), var mine = observed, mine.holderIdentity == identity else { return }
        let t = now()
        mine.holderIdentity = ""
        mine.leaseDurationSeconds = 1
        mine.acquireTime = t
        mine.renewTime = t
        for _ in 0..<3 {
            do {
                _ = try await call { [mine] in try await $0.update(mine) }
                logger.notice("Released the leader Lease")
                break
            } catch {
                do {
                    guard let fresh = try await call({ try await $0.get() }), fresh.holderIdentity == identity else { break }
                    mine.resourceVersion = fresh.resourceVersion
                } catch {
                    logger.warning("Could not release the leader Lease; a standby takes over when it expires", metadata: ["error": "\(error)"])
                    break
                }
            }
        }
        becomeLeader(false)
    }

    func record(_ lease: LeaseRecord, at local: ContinuousClock.Instant) {
        observed = lease
        observedAt = local
    }

    /// A successful write of the Lease as holder, sent at `sent` (local clock): leadership is provable
    /// until `renewDeadline` after that.
    func renewed(_ lease: LeaseRecord, sentAt sent: ContinuousClock.Instant) {
        record(lease, at: monotonic())
        lastRenewal = sent
        validUntil.withLock { $0 = sent + timings.renewDeadline }
    }

    /// After a failed attempt: a leader keeps leading until the renew deadline passes.
    func stillLeading() -> Bool {
        guard leading.load(ordering: .acquiring) else { return false }
        if isLeader { return true }
        logger.error("Could not renew the leader Lease within the renew deadline; stepping down")
        becomeLeader(false)
        return false
    }

    func becomeLeader(_ value: Bool) {
        if !value { validUntil.withLock { $0 = nil } }
        let was = leading.exchange(value, ordering: .acquiringAndReleasing)
        if was != value {
            logger.notice(value ? "Became leader" : "Stopped leading", metadata: ["identity": "\(identity)"])
        }
    }
}

/// The first of a Lease call and its deadline to finish.
enum LeaseCallOutcome<T: Sendable>: Sendable {
    case value(T)
    case timedOut
}
