import BatchCore
import Logging
import Synchronization

/// The fields of a `coordination.k8s.io/v1` Lease that leader election uses.
public struct LeaseRecord: Sendable, Equatable {
    public var holderIdentity: String?
    public var leaseDurationSeconds: Int
    public var acquireTime: KubeTime?
    public var renewTime: KubeTime?
    public var leaseTransitions: Int
    /// As read; sent back on update, so a lost race is a conflict.
    public var resourceVersion: String?

    public init(holderIdentity: String?, leaseDurationSeconds: Int, acquireTime: KubeTime?, renewTime: KubeTime?,
                leaseTransitions: Int, resourceVersion: String? = nil) {
        self.holderIdentity = holderIdentity
        self.leaseDurationSeconds = leaseDurationSeconds
        self.acquireTime = acquireTime
        self.renewTime = renewTime
        self.leaseTransitions = leaseTransitions
        self.resourceVersion = resourceVersion
    }
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
public actor LeaderElector {
    public struct Timings: Sendable {
        public var leaseDuration: Duration
        public var renewDeadline: Duration
        public var retryPeriod: Duration
        public init(leaseDuration: Duration = .seconds(15), renewDeadline: Duration = .seconds(10), retryPeriod: Duration = .seconds(2)) {
            self.leaseDuration = leaseDuration
            self.renewDeadline = renewDeadline
            self.retryPeriod = retryPeriod
        }
        /// client-go's checks: leaseDuration > renewDeadline > 1.2 × retryPeriod > 0.
        public var problem: String? {
            if retryPeriod <= .zero { return "retryPeriod must be positive" }
            if renewDeadline <= retryPeriod * 1.2 { return "renewDeadline must be more than 1.2 × retryPeriod" }
            if leaseDuration <= renewDeadline { return "leaseDuration must be longer than renewDeadline" }
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

    /// Whether this process holds the Lease (readable from any thread, for metrics and health).
    public nonisolated var isLeader: Bool { leading.load(ordering: .acquiring) }

    /// One client-go `tryAcquireOrRenew`. Returns whether this process leads afterwards.
    @discardableResult
    public func tryAcquireOrRenew() async -> Bool {
        let t = now()
        let local = monotonic()
        let seconds = Int(timings.leaseDuration.components.seconds)
        // Fast path: we lead and our record is current; renew with the cached resourceVersion.
        if isLeader, var mine = observed, mine.holderIdentity == identity {
            mine.renewTime = t
            do {
                let renewed = try await store.update(mine)
                record(renewed, at: local)
                lastRenewal = local
                return true
            } catch {
                logger.debug("Fast renewal failed; re-reading the Lease", metadata: ["error": "\(error)"])   // as client-go: fall through
            }
        }
        let current: LeaseRecord?
        do {
            current = try await store.get()
        } catch {
            logger.warning("Could not read the leader Lease", metadata: ["error": "\(error)"])
            return stillLeading(at: local)
        }
        guard let current else {
            let fresh = LeaseRecord(holderIdentity: identity, leaseDurationSeconds: seconds, acquireTime: t, renewTime: t, leaseTransitions: 0)
            do {
                let created = try await store.create(fresh)
                record(created, at: local)
                lastRenewal = local
                becomeLeader(true)
                return true
            } catch {
                return stillLeading(at: local)
            }
        }
        if current != observed { record(current, at: local) }
        let holder = current.holderIdentity ?? ""
        let expiresAt = (observedAt ?? local) + .seconds(current.leaseDurationSeconds)
        if !holder.isEmpty && holder != identity && expiresAt > local {
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
        do {
            let updated = try await store.update(next)
            record(updated, at: local)
            lastRenewal = local
            becomeLeader(true)
            return true
        } catch {
            return stillLeading(at: local)
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
        guard isLeader, var mine = observed, mine.holderIdentity == identity else { return }
        let t = now()
        mine.holderIdentity = ""
        mine.leaseDurationSeconds = 1
        mine.acquireTime = t
        mine.renewTime = t
        for _ in 0..<3 {
            do {
                _ = try await store.update(mine)
                logger.notice("Released the leader Lease")
                break
            } catch {
                do {
                    guard let fresh = try await store.get(), fresh.holderIdentity == identity else { break }
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

    /// After a failed attempt: a leader keeps leading until the renew deadline passes.
    func stillLeading(at local: ContinuousClock.Instant) -> Bool {
        guard isLeader, let last = lastRenewal else { return false }
        if local - last < timings.renewDeadline { return true }
        logger.error("Could not renew the leader Lease within the renew deadline; stepping down")
        becomeLeader(false)
        return false
    }

    func becomeLeader(_ value: Bool) {
        let was = leading.exchange(value, ordering: .acquiringAndReleasing)
        if was != value {
            logger.notice(value ? "Became leader" : "Stopped leading", metadata: ["identity": "\(identity)"])
        }
    }
}
