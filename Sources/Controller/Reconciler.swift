import BatchCore
import Logging
import MemberwiseInit

/// The annotation the ReplicaSet controller reads to choose which pods to remove first.
public let podDeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

/// What one pass did, for logs, metrics and tests.
public struct PassReport: Sendable {
    /// By BatchQueue name.
    public var decisions: [String: Decision] = [:]
    public var scaleWrites = 0
    public var statusWrites = 0
    public var otherWrites = 0
    /// What failed, where, in the order it happened (empty: every write this pass was made).
    public var failures: [PassFailure] = []
    /// Why Redis was treated as unknown this pass, if it was.
    public var redisProblem: String?
    /// The BatchQueues as read at the start of the pass.
    public var queues: [BatchQueue] = []
    /// Objects left out because they do not decode.
    public var skipped: [SkippedObject] = []
    /// By BatchQueue name: what the usage ledgers written this pass added (for the usage counters).
    public var usageGrowth: [String: [UsageLedger.Delta]] = [:]
    /// The guards as read this pass, by name (empty when none was read: no guards, or no queue claimed).
    public var guards: [String: GuardReading] = [:]
    public var totalWrites: Int { scaleWrites + statusWrites + otherWrites }
    public init() {}
}

/// One failure of a pass: which BatchQueue (nil: the whole pass), at which step, and the error.
@MemberwiseInit(.public)
public struct PassFailure: Sendable, CustomStringConvertible {
    public var queue: String?
    public var step: PassStep
    public var error: any Error
    /// `batch1: writing status: 500 Internal Server Error`.
    public var description: String { (queue.map { "\($0): " } ?? "") + "\(step): \(error)" }
}

/// Where in a pass something failed: reading the cluster, or one of the plan's writes (`Write`).
public enum PassStep: Sendable, Hashable, CustomStringConvertible {
    case readCluster
    case clamp
    case deletionCost(pod: String)
    case scale(deployment: String, to: Int)
    case clearReservation(ClaimEnd)
    case status
    case event(reason: String)
    case notify

    /// The step that makes `write`.
    public init(_ write: Write) {
        switch write {
        case .clampReservation: self = .clamp
        case let .deletionCost(pod, _): self = .deletionCost(pod: pod)
        case let .scale(deployment, _, to): self = .scale(deployment: deployment, to: to)
        case let .clearReservation(ending): self = .clearReservation(ending)
        case .status: self = .status
        case let .event(event): self = .event(reason: event.reason)
        case .notify: self = .notify
        }
    }

    /// Every `label`.
    public static let labels = ["read_cluster", "clamp", "deletion_cost", "scale", "clear_reservation", "status", "event", "notify"]

    /// A short name with a small fixed set of values (`labels`), for a metric label: `read_cluster`, `scale`, `status`...
    public var label: String {
        switch self {
        case .readCluster: "read_cluster"
        case .clamp: "clamp"
        case .deletionCost: "deletion_cost"
        case .scale: "scale"
        case .clearReservation: "clear_reservation"
        case .status: "status"
        case .event: "event"
        case .notify: "notify"
        }
    }

    /// What was being done, as in a log line: `scaling celery-batch1 to 0`.
    public var description: String {
        switch self {
        case .readCluster: "reading the cluster"
        case .clamp: "clamping the reservation to the policy"
        case let .deletionCost(pod): "setting the deletion cost of pod \(pod) before scaling down"
        case let .scale(deployment, to): "scaling \(deployment) to \(to)"
        case let .clearReservation(ending): "clearing the \(ending == .workDone ? "finished" : "expired") reservation"
        case .status: "writing status"
        case let .event(reason): "recording event \(reason)"
        case .notify: "sending the reminder"
        }
    }
}

/// Runs reconcile passes: observe (cluster caches and Redis), `decideAll`, then make the writes that
/// `WritePlan.plan` lists (only where the decision differs from what was observed). All state that matters lives in the cluster; what is
/// kept here (the last good Redis reading, status-write times) only saves work.
public actor Reconciler {
    /// How stale a Redis reading may be before queues count as unknown, and how often status may be
    /// rewritten when nothing important changed.
    @MemberwiseInit(.public)
    public struct Settings: Sendable {
        public var pollInterval: TimeSpan
        /// A failed read reuses the last good one while it is younger than this many polls.
        public var staleAfterPolls: Int = 3
        /// At most one status write per queue per this interval, unless phase, replicas,
        /// conditions or reminders change.
        public var statusMinInterval: TimeSpan = .seconds(5)
    }

    let config: BatchConfig
    let settings: Settings
    let observer: any QueueObserver
    let cluster: any ClusterClient
    let notifier: (any Notifier)?
    /// Where the policy's guards are read; nil: they read as unknown (no Prometheus configured).
    let guardReader: (any GuardReader)?
    /// The controller's one wall clock (see `WallClock`): the time of each pass.
    let clock: WallClock
    let logger: Logger
    /// Checked before every write: false once this replica cannot prove it leads (see `LeaderElector`).
    let writeFence: @Sendable () -> Bool

    var lastReading: (snapshot: RedisSnapshot, at: KubeTime)?
    var lastStatusWrite: [String: KubeTime] = [:]
    /// The last invalid-policy problems logged, so they are logged once, not every pass.
    var lastPolicyProblem: String?
    /// The Celery queues probed last pass (the BatchQueues seen), to log when the set changes.
    var lastQueueSet: [String]?
    /// Undecodable BatchQueues already given an Event (each problem once).
    var reportedSkips: Set<SkippedObject> = []
    /// By BatchQueue name, then pod: worker pods as last seen running (`until` = when), for the usage ledger
    /// to count pods that stop between two status writes (see `accountUsage`).
    var usagePodsSeen: [String: [String: UsagePod]] = [:]
    /// Each guard's state last logged, so a change is logged once.
    var lastGuardStates: [String: String] = [:]

    public init(config: BatchConfig, settings: Settings, observer: any QueueObserver, cluster: any ClusterClient,
                notifier: (any Notifier)? = nil, guards: (any GuardReader)? = nil, logger: Logger = Logger(label: "batchctl.controller"),
                writeFence: @escaping @Sendable () -> Bool = { true }, clock: @escaping WallClock) {
        self.writeFence = writeFence
        self.config = config
        self.settings = settings
        self.observer = observer
        self.cluster = cluster
        self.notifier = notifier
        self.guardReader = guards
        self.logger = logger
        self.clock = clock
    }

    /// One pass over every BatchQueue. Errors are counted and logged per queue; a pass never throws,
    /// and a failure on one queue does not stop the others.
    public func reconcileOnce() async -> PassReport {
        var report = PassReport()
        let now = clock()
        let snapshot: ClusterSnapshot
        do {
            snapshot = try await cluster.snapshot()
        } catch {
            report.failures.append(PassFailure(queue: nil, step: .readCluster, error: error))
            logger.warning("Could not read the cluster; nothing decided this pass", metadata: ["error": "\(error)"])
            return report
        }
        let (config, policyCondition) = effectiveConfig(snapshot.policy)
        // Defence in depth: a reservation outside the policy is clamped before anything is decided from it.
        var queues: [BatchQueue] = []
        for q in snapshot.queues {
            queues.append(await clampIfOutside(q, policy: config.policy, now: now, report: &report))
        }
        report.queues = queues
        report.skipped = snapshot.skipped
        await reportSkipped(snapshot.skipped, report: &report)
        let names = Array(Set(queues.map(\.queueName))).sorted()
        if names != lastQueueSet {
            let before = Set(lastQueueSet ?? [])
            logger.notice("Probing queues", metadata: ["queues": "\(names.joined(separator: ","))",
                                                       "added": "\(names.filter { !before.contains($0) }.joined(separator: ","))",
                                                       "removed": "\(before.subtracting(names).sorted().joined(separator: ","))"])
            lastQueueSet = names
        }
        let redis = await readRedis(queues: names, now: now, report: &report)
        let guards = await readGuards(config.policy.guards, queues: queues, now: now, report: &report)

        var inputs: [DecideInput] = []
        for q in queues {
            let deployment = snapshot.deployments[q.spec.deployment]
            var observation: QueueObservation?
            var unknownReason = report.redisProblem ?? "Redis could not be read"
            if let redis {
                if let reading = redis.queues[q.queueName], reading.error == nil, let depth = reading.depth, let inFlight = reading.inFlight {
                    let busy = deployment.map { busyWorkers(of: $0, pods: snapshot.pods, workers: redis.workers) } ?? 0
                    let starts = deployment.map { $0.pods(among: snapshot.pods).compactMap(\.workerStartedAt) } ?? []
                    let stranded = inFlight > 0 ? StrandedTasks.classify(deliveries: reading.deliveries ?? [], workerStarts: starts) : .none
                    observation = QueueObservation(depth: depth, inFlight: inFlight, busyWorkers: busy, stranded: stranded)
                } else if let error = redis.queues[q.queueName]?.error {
                    unknownReason = "queue \(q.queueName) could not be read: \(error)"
                } else {
                    unknownReason = "queue \(q.queueName) was not read from Redis yet"
                }
            }
            inputs.append(DecideInput(queue: q, observation: observation, unknownReason: unknownReason, deployment: deployment,
                                      redisMemory: redis?.memory, now: now, guards: guards))
        }
        var decisions = decideAll(inputs, policy: config)
        if let policyCondition {
            for (i, q) in queues.enumerated() {
                decisions[i].status.setCondition(policyCondition, now: now, generation: q.metadata.generation)
            }
        }
        for (i, q) in queues.enumerated() {
            // The doctor's checks that the Deployment cache answers: -Q and --hostname of the worker command.
            guard let arguments = snapshot.deployments[q.spec.deployment]?.workerArguments else { continue }
            let has = q.status?.conditions?.contains { $0.type == ConditionType.workersMisconfigured } ?? false
            if let update = DoctorRules.workersCondition(queue: q.queueName, deployment: q.spec.deployment, arguments: arguments, hasCondition: has) {
                decisions[i].status.setCondition(update, now: now, generation: q.metadata.generation)
            }
        }
        for i in queues.indices {
            accountUsage(queues[i], decision: &decisions[i], snapshot: snapshot, workers: redis?.workers, now: now)
        }
        for (q, d) in zip(queues, decisions) {
            let name = q.metadata.name ?? q.queueName
            report.decisions[name] = d
            await act(on: q, decision: d, snapshot: snapshot, workers: redis?.workers ?? [], now: now, report: &report)
        }
        return report
    }

    /// The configuration with the cluster's policy, and the `PolicyDefaults` condition that says where the rules
    /// came from (nil when the cluster client does not read policies).
    func effectiveConfig(_ state: PolicyState?) -> (BatchConfig, ConditionUpdate?) {
        let type = ConditionType.policyDefaults
        switch state {
        case nil:
            return (config, nil)
        case let .found(policy)?:
            return (config.with(policy: policy), ConditionUpdate(type: type, value: false, reason: "BatchQueuePolicyFound",
                                                                message: "The rules come from the BatchQueuePolicy named default in this namespace."))
        case .missing?:
            return (config, ConditionUpdate(type: type, value: true, reason: "NoBatchQueuePolicy",
                                            message: "There is no BatchQueuePolicy named default in this namespace: the embedded defaults apply. Create one (kubectl apply -k deploy) to set the rules."))
        case let .invalid(problems)?:
            if lastPolicyProblem != problems {
                lastPolicyProblem = problems
                logger.warning("The BatchQueuePolicy is invalid; using the embedded defaults", metadata: ["problems": "\(problems)"])
            }
            return (config, ConditionUpdate(type: type, value: true, reason: "InvalidBatchQueuePolicy",
                                            message: String("The BatchQueuePolicy named default breaks a rule, so the embedded defaults apply until it is fixed: \(problems)".prefix(2048))))
        }
    }

    /// `q` with its reservation clamped to `policy` (one write and a Warning Event naming each rule, `WritePlan.clamp`),
    /// or `q` unchanged when it is inside the policy or the write fails (the next pass tries again).
    func clampIfOutside(_ q: BatchQueue, policy: QueuePolicy, now: KubeTime, report: inout PassReport) async -> BatchQueue {
        guard let plan = WritePlan.clamp(q, policy: policy, now: now) else { return q }
        var log = logger
        log[metadataKey: "batchqueue"] = "\(q.metadata.name ?? q.queueName)"
        let stored = await execute(plan.writes, on: q, now: now, log: log, report: &report)
        if stored != q { log.warning("Clamped a reservation outside the BatchQueuePolicy") }
        return stored
    }

    /// The Redis reading for this pass: fresh, or the last good one while it is not stale, else nil.
    func readRedis(queues: [String], now: KubeTime, report: inout PassReport) async -> RedisSnapshot? {
        do {
            let snapshot = try await observer.observe(queues: queues)
            lastReading = (snapshot, now)
            return snapshot
        } catch {
            let staleAfter = settings.pollInterval.duration * max(0, settings.staleAfterPolls)
            if let last = lastReading, now - last.at <= staleAfter {
                logger.debug("Redis read failed; using the previous reading", metadata: ["error": "\(error)"])
                return last.snapshot
            }
            report.redisProblem = "Redis could not be read (\(error))"
            logger.warning("Redis could not be read; holding replicas", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// The guards of the claimed queues (the policy's and their own), each expression queried once for all
    /// of them; none when no queue is claimed. Each query's timeout stays inside the poll interval.
    func readGuards(_ policyGuards: [Guard], queues: [BatchQueue], now: KubeTime, report: inout PassReport) async -> [String: GuardReading] {
        var guards: [Guard] = []
        for q in queues where q.spec.reservation.map({ now < $0.expiresAt }) == true && q.spec.paused != true {
            for g in q.guards(policy: policyGuards).guards where !guards.contains(where: { $0.expr == g.expr }) { guards.append(g) }
        }
        guard !guards.isEmpty else { return [:] }
        let timeout = max(.milliseconds(100), min(config.prometheus?.timeout ?? .seconds(2), settings.pollInterval))
        let readings = await (guardReader ?? NoPrometheus()).read(guards, timeout: timeout.duration)
        for g in guards {
            guard let r = readings[g.expr] else { continue }
            report.guards[g.name] = r
            guard lastGuardStates[g.name] != r.state else { continue }
            lastGuardStates[g.name] = r.state
            if case let .unknown(reason) = r {
                logger.warning("Guard unknown; holding the ramp of claimed queues", metadata: ["guard": "\(g.name)", "reason": "\(reason)"])
            } else {
                logger.notice("Guard changed state", metadata: ["guard": "\(g.name)", "state": "\(r.state)"])
            }
        }
        return readings
    }

    /// Workers with running tasks whose pod belongs to `deployment` (`WorkerPods`: the rule `batchctl probe` shares).
    func busyWorkers(of deployment: DeploymentState, pods: [PodState], workers: [WorkerActivity]) -> Int {
        WorkerPods.busyCount(busyHostnames: workers.lazy.filter { $0.active > 0 }.map(\.hostname),
                             pods: Set(deployment.pods(among: pods).map(\.name)))
    }

    /// Carries out the plan of writes for one queue (`WritePlan.plan`): each write in order, behind the write
    /// fence, skipping what a failure skips (`Write.onFailure`).
    func act(on q: BatchQueue, decision d: Decision, snapshot: ClusterSnapshot, workers: [WorkerActivity],
             now: KubeTime, report: inout PassReport) async {
        let name = q.metadata.name ?? q.queueName
        var log = logger
        log[metadataKey: "batchqueue"] = "\(name)"
        log[metadataKey: "reason"] = "\(d.reason.rawValue)"
        let plan = WritePlan.plan(queue: q, decision: d, snapshot: snapshot, workers: workers, lastStatusWrite: lastStatusWrite[name], now: now,
                                  busyAware: config.busyAware, statusMinInterval: settings.statusMinInterval)
        if let held = plan.heldScaleDown {
            log.notice("Holding part of a scale-down: a busy worker's pod is not ready, and the ReplicaSet removes pods that are not ready first, whatever their deletion cost",
                       metadata: ["deployment": "\(held.deployment)", "decided": "\(held.decided)", "scalingTo": "\(held.scalingTo)"])
        }
        _ = await execute(plan.writes, on: q, now: now, log: log, report: &report)
    }

    /// Makes `writes` on `queue` in order; a failure is recorded and skips what `Write.onFailure` says. Each write
    /// after one that stored the BatchQueue (a clamp, a clear) uses the object it returned (its resourceVersion).
    /// Returns the BatchQueue as last stored.
    func execute(_ writes: [Write], on queue: BatchQueue, now: KubeTime, log: Logger, report: inout PassReport) async -> BatchQueue {
        let name = queue.metadata.name ?? queue.queueName
        var current = queue
        var skipped = 0..<0
        for (i, write) in writes.enumerated() where !skipped.contains(i) {
            do {
                try await make(write, on: &current, original: queue, now: now, log: log, report: &report)
            } catch {
                let failure = PassFailure(queue: name, step: PassStep(write), error: error)
                report.failures.append(failure)
                log.warning("A write failed", metadata: ["step": "\(failure.step)", "error": "\(error)"])
                skipped = WritePlan.skipped(after: i, in: writes)
            }
        }
        return current
    }

    /// One write, through the fence; `current` becomes the stored BatchQueue when the write returns one.
    func make(_ write: Write, on current: inout BatchQueue, original: BatchQueue, now: KubeTime, log: Logger, report: inout PassReport) async throws {
        let name = current.metadata.name ?? current.queueName
        switch write {
        case let .clampReservation(reservation):
            try fenced()
            current = try await cluster.writeReservation(of: current, to: reservation)
            report.otherWrites += 1
        case let .deletionCost(pod, cost):
            try fenced()
            try await cluster.setDeletionCost(pod: pod, cost: cost)
            report.otherWrites += 1
        case let .scale(deployment, from, to):
            try fenced()
            try await cluster.scale(deployment: deployment, to: to)
            report.scaleWrites += 1
            log.notice("Scaled Deployment", metadata: ["deployment": "\(deployment)", "from": "\(from)", "to": "\(to)"])
        case let .clearReservation(ending):
            try fenced()
            let holder = current.spec.reservation?.holder ?? ""
            current = try await cluster.writeReservation(of: current, to: nil)   // the status write after it needs its resourceVersion
            report.otherWrites += 1
            log.notice(ending == .workDone ? "Released the reservation: work done" : "Cleared expired reservation", metadata: ["holder": "\(holder)"])
        case let .status(status):
            try fenced()
            current = try await cluster.updateStatus(of: current, to: status)
            report.statusWrites += 1
            report.usageGrowth[name] = UsageLedger.growth(from: original.status?.usage, to: status.usage)
            lastStatusWrite[name] = now
        case var .event(event):
            event.queue = current
            try fenced()
            try await cluster.record(event)
            report.otherWrites += 1
            if event.action != "Remind" {   // a reminder is logged with its notification
                log.log(level: event.isWarning ? .warning : .notice, "Recorded Event", metadata: ["event": "\(event.reason)", "note": "\(event.note)"])
            }
        case let .notify(reminder):
            log.info("Reminder", metadata: ["kind": "\(reminder.reason)", "holder": "\(reminder.holder ?? "")", "message": "\(reminder.message)"])
            if writeFence() { await notifier?.notify(reminder, queue: current) }
        }
    }

    /// An Event on each BatchQueue that does not decode (once per problem): the others are reconciled.
    func reportSkipped(_ skipped: [SkippedObject], report: inout PassReport) async {
        reportedSkips.formIntersection(skipped)
        for s in skipped where s.kind == BatchQueue.kind && !reportedSkips.contains(s) {
            logger.error("BatchQueue does not decode; reconciling the others", metadata: ["batchqueue": "\(s.name)", "problem": "\(s.problem)"])
            let queue = BatchQueue(metadata: ObjectMeta(name: s.name, uid: s.uid), spec: BatchQueueSpec(queue: s.name, deployment: ""))
            let before = report.failures.count
            let event = ControllerEvent(queue: queue, isWarning: true, reason: "InvalidBatchQueue", action: "Decode",
                                        note: String("batchctl cannot read this BatchQueue, so it is not reconciled: \(s.problem). Fix the field (kubectl edit) or delete and recreate it.".prefix(1024)))
            _ = await execute([.event(event)], on: queue, now: clock(), log: logger, report: &report)
            if report.failures.count == before { reportedSkips.insert(s) }
        }
    }

    /// Throws `NotLeading` once this replica cannot prove it still leads: no write may follow.
    func fenced() throws(NotLeading) {
        guard writeFence() else { throw NotLeading() }
    }
}

/// A write was skipped because this replica can no longer prove that it holds the leader Lease.
public struct NotLeading: Error, CustomStringConvertible {
    public var description: String { "skipped: this replica can no longer prove it holds the leader Lease (another may lead now)" }
}
