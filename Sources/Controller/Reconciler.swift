import BatchCore
import Logging

/// The annotation the ReplicaSet controller reads to choose which pods to remove first.
public let podDeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

/// What one pass did, for logs, metrics and tests.
public struct PassReport: Sendable {
    /// By BatchQueue name.
    public var decisions: [String: Decision] = [:]
    public var scaleWrites = 0
    public var statusWrites = 0
    public var otherWrites = 0
    public var errors: [String] = []
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

/// Runs reconcile passes: observe (cluster caches and Redis), `decideAll`, then act only where the
/// decision differs from what was observed. All state that matters lives in the cluster; what is
/// kept here (the last good Redis reading, status-write times) only saves work.
public actor Reconciler {
    /// How stale a Redis reading may be before queues count as unknown, and how often status may be
    /// rewritten when nothing important changed.
    public struct Settings: Sendable {
        public var pollInterval: TimeSpan
        /// A failed read reuses the last good one while it is younger than this many polls.
        public var staleAfterPolls: Int
        /// At most one status write per queue per this interval, unless phase, replicas,
        /// conditions or reminders change.
        public var statusMinInterval: TimeSpan
        public init(pollInterval: TimeSpan, staleAfterPolls: Int = 3, statusMinInterval: TimeSpan = .seconds(5)) {
            self.pollInterval = pollInterval
            self.staleAfterPolls = staleAfterPolls
            self.statusMinInterval = statusMinInterval
        }
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
            report.errors.append("reading the cluster: \(error)")
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
                    let starts = deployment.map { podsOf($0, in: snapshot.pods).compactMap(\.workerStartedAt) } ?? []
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

    /// `q` with its reservation clamped to `policy` (one write and a Warning Event naming each rule), or `q`
    /// unchanged when it is inside the policy or the write fails (the next pass tries again).
    func clampIfOutside(_ q: BatchQueue, policy: QueuePolicy, now: KubeTime, report: inout PassReport) async -> BatchQueue {
        guard let clamp = policy.clamp(q, now: now) else { return q }
        let name = q.metadata.name ?? q.queueName
        do {
            try fenced()
            let stored = try await cluster.writeReservation(of: q, to: clamp.reservation)
            report.otherWrites += 1
            logger.warning("Clamped a reservation outside the BatchQueuePolicy", metadata: ["batchqueue": "\(name)", "rules": "\(clamp.rules.map(\.description))"])
            await record(ControllerEvent(queue: stored, isWarning: true, reason: "ReservationClamped", action: "Clamp",
                                         note: String(clamp.note.prefix(1024))), report: &report)
            return stored
        } catch {
            report.errors.append("\(name): clamping the reservation to the policy: \(error)")
            logger.warning("Could not clamp a reservation outside the policy", metadata: ["batchqueue": "\(name)", "error": "\(error)"])
            return q
        }
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
                             pods: Set(podsOf(deployment, in: pods).map(\.name)))
    }

    func podsOf(_ deployment: DeploymentState, in pods: [PodState]) -> [PodState] {
        pods.filter { WorkerPods.selects(deployment.selector, labels: $0.labels) }
    }

    func act(on q: BatchQueue, decision d: Decision, snapshot: ClusterSnapshot, workers: [WorkerActivity],
             now: KubeTime, report: inout PassReport) async {
        let busyAware = config.busyAware
        let name = q.metadata.name ?? q.queueName
        var log = logger
        log[metadataKey: "batchqueue"] = "\(name)"
        log[metadataKey: "reason"] = "\(d.reason.rawValue)"

        // 1. Replicas: only when they differ; deletion costs first, so the idle pods go.
        if let decided = d.desiredReplicas, let deployment = snapshot.deployments[q.spec.deployment], decided != deployment.replicas {
            // A busy worker whose pod is not ready would be removed first: hold that part of a scale-down.
            let pods = podsOf(deployment, in: snapshot.pods)
            let desired = decided < deployment.replicas && busyAware
                ? Self.safeScaleDown(to: decided, from: deployment.replicas, pods: pods, workers: workers) : decided
            if desired != decided {
                log.notice("Holding part of a scale-down: a busy worker's pod is not ready, and the ReplicaSet removes pods that are not ready first, whatever their deletion cost",
                           metadata: ["deployment": "\(deployment.name)", "decided": "\(decided)", "scalingTo": "\(desired)"])
            }
            if desired != deployment.replicas {
                do {
                    if desired < deployment.replicas && busyAware {
                        report.otherWrites += try await markDeletionCosts(pods, workers: workers)
                    }
                    try fenced()
                    try await cluster.scale(deployment: deployment.name, to: desired)
                    report.scaleWrites += 1
                    log.notice("Scaled Deployment", metadata: ["deployment": "\(deployment.name)", "from": "\(deployment.replicas)", "to": "\(desired)"])
                } catch {
                    report.errors.append("\(name): scaling \(deployment.name) to \(desired): \(error)")
                    log.warning("Could not scale Deployment", metadata: ["deployment": "\(deployment.name)", "error": "\(error)"])
                }
            }
        }

        // 2. An expired reservation is cleared (a conflict means someone changed it: re-read next pass).
        var q = q
        if d.clearReservation {
            do {
                try fenced()
                let holder = q.spec.reservation?.holder ?? ""
                q = try await cluster.writeReservation(of: q, to: nil)   // the status write below needs its new resourceVersion
                report.otherWrites += 1
                log.notice(d.reason == .workDone ? "Released the reservation: work done" : "Cleared expired reservation",
                           metadata: ["holder": "\(holder)"])
            } catch {
                report.errors.append("\(name): clearing the \(d.reason == .workDone ? "finished" : "expired") reservation: \(error)")
                // Not released (the holder may have just changed it): no status or message saying it was; the next pass decides again.
                if d.reason == .workDone { return }
            }
        }

        // 3. Status: only on change, and at most once per interval unless something important changed.
        //    Reminders are recorded in status first (a changed log is always important) and sent only
        //    once that write succeeded, so a failed write cannot lead to a reminder sent twice.
        let old = q.status ?? BatchQueueStatus()
        var written = true
        if d.status != old {
            let important = old.phase != d.status.phase || old.desiredReplicas != d.status.desiredReplicas
                || old.hasWork != d.status.hasWork   // the idle clock starts from this write
                || old.stranded != d.status.stranded
                || old.guards?.map { "\($0.name)=\($0.state)" } != d.status.guards?.map { "\($0.name)=\($0.state)" }   // the guards' clocks
                || old.replicas != d.status.replicas || old.reminders != d.status.reminders
                || UsageLedger.mustWrite(from: old.usage, to: d.status.usage, queueIdle: !d.status.hasWork)
                || old.conditions?.map { "\($0.type)=\($0.status)" } != d.status.conditions?.map { "\($0.type)=\($0.status)" }
            let last = lastStatusWrite[name]
            let due = last.map { now.microsecondsSinceEpoch - $0.microsecondsSinceEpoch >= settings.statusMinInterval.milliseconds * 1000 } ?? true
            if important || due {
                do {
                    try fenced()
                    _ = try await cluster.updateStatus(of: q, to: d.status)
                    report.statusWrites += 1
                    report.usageGrowth[name] = UsageLedger.growth(from: old.usage, to: d.status.usage)
                    lastStatusWrite[name] = now
                } catch {
                    written = false
                    report.errors.append("\(name): writing status: \(error)")
                    log.warning("Could not write BatchQueue status", metadata: ["error": "\(error)"])
                }
            }
        }
        guard written else { return }

        // 4. Events and notifications.
        if let event = Self.workersEvent(queue: q, old: old, new: d.status) {
            log.log(level: event.isWarning ? .warning : .notice, event.isWarning ? "Worker Deployment misconfigured" : "Worker Deployment no longer misconfigured",
                    metadata: ["deployment": "\(q.spec.deployment)", "note": "\(event.note)"])
            await record(event, report: &report)
        }
        var reminders = d.reminders
        if d.reason == .workDone, d.clearReservation, let holder = d.status.usage?.history?.last?.holder {
            let text = Self.workDoneText(queue: name, holder: holder, usage: d.status.usage?.history?.last)
            reminders.append(Reminder(kind: .releasedWorkDone, queue: name, holder: holder, message: text,
                                      nextCommand: "batchctl history \(name)", isWarning: false))
        }
        for reminder in reminders {
            log.info("Reminder", metadata: ["kind": "\(reminder.reason)", "holder": "\(reminder.holder ?? "")", "message": "\(reminder.message)"])
            await record(ControllerEvent(queue: q, isWarning: reminder.isWarning, reason: reminder.reason, action: "Remind",
                                         note: String(reminder.message.prefix(1024))), report: &report)
            if writeFence() { await notifier?.notify(reminder, queue: q) }
        }
        for event in d.events {
            switch event {
            case let .externalScaleRestored(found, restoredTo):
                let note = "\(q.spec.deployment) was scaled to \(found) outside batchctl; restored to \(restoredTo), as the reservation and policy decide. Use 'batchctl scale \(name) N' to change the holder's ceiling."
                log.warning("Restored replicas changed outside batchctl", metadata: ["found": "\(found)", "restoredTo": "\(restoredTo)"])
                await record(ControllerEvent(queue: q, isWarning: true, reason: "ScaleRestored", action: "Scale", note: note), report: &report)
            case let .drainingBusyWorkers(busy, deadline):
                let note = "The reservation of \(name) ended while \(busy) worker(s) still ran tasks: idle workers were stopped, the busy ones stop when their tasks finish, at the latest at \(TimeText.utc(deadline)) (busyWorkerGrace)."
                log.notice("Draining busy workers", metadata: ["busy": "\(busy)", "deadline": "\(TimeText.utc(deadline))"])
                await record(ControllerEvent(queue: q, isWarning: false, reason: "DrainingBusyWorkers", action: "Scale", note: note), report: &report)
            }
        }
    }

    /// The Event for a change of the `WorkersMisconfigured` condition's status between `old` and `new` (written):
    /// a Warning when it becomes True, a Normal one when it turns False after True; nil when its status is unchanged.
    static func workersEvent(queue: BatchQueue, old: BatchQueueStatus, new: BatchQueueStatus) -> ControllerEvent? {
        let type = ConditionType.workersMisconfigured
        let before = old.conditions?.first { $0.type == type }?.status ?? "False"
        guard let after = new.conditions?.first(where: { $0.type == type }), after.status != before else { return nil }
        let warning = after.status == "True"
        return ControllerEvent(queue: queue, isWarning: warning, reason: warning ? type : after.reason,
                               action: "Check", note: String(after.message.prefix(1024)))
    }

    func record(_ event: ControllerEvent, report: inout PassReport) async {
        do {
            try fenced()
            try await cluster.record(event)
            report.otherWrites += 1
        } catch {
            report.errors.append("recording event \(event.reason): \(error)")
            logger.warning("Could not record Event", metadata: ["reason": "\(event.reason)", "error": "\(error)"])
        }
    }

    /// Idle pods cost 0, busy ones 1000 per running task, so the ReplicaSet removes idle pods first.
    /// Only values that differ are written. Returns the number of writes.
    func markDeletionCosts(_ pods: [PodState], workers: [WorkerActivity]) async throws -> Int {
        var active: [String: Int] = [:]
        for w in workers { if let pod = w.podName { active[pod] = w.active } }
        var writes = 0
        for pod in pods {
            let cost = Self.deletionCost(activeTasks: active[pod.name] ?? 0)
            if pod.deletionCost != cost {
                try fenced()
                try await cluster.setDeletionCost(pod: pod.name, cost: cost)
                writes += 1
            }
        }
        return writes
    }

    /// An Event on each BatchQueue that does not decode (once per problem): the others are reconciled.
    func reportSkipped(_ skipped: [SkippedObject], report: inout PassReport) async {
        reportedSkips.formIntersection(skipped)
        for s in skipped where s.kind == BatchQueue.kind && !reportedSkips.contains(s) {
            logger.error("BatchQueue does not decode; reconciling the others", metadata: ["batchqueue": "\(s.name)", "problem": "\(s.problem)"])
            let queue = BatchQueue(metadata: ObjectMeta(name: s.name, uid: s.uid), spec: BatchQueueSpec(queue: s.name, deployment: ""))
            let before = report.errors.count
            await record(ControllerEvent(queue: queue, isWarning: true, reason: "InvalidBatchQueue", action: "Decode",
                                         note: String("batchctl cannot read this BatchQueue, so it is not reconciled: \(s.problem). Fix the field (kubectl edit) or delete and recreate it.".prefix(1024))),
                         report: &report)
            if report.errors.count == before { reportedSkips.insert(s) }
        }
    }

    /// Throws `NotLeading` once this replica cannot prove it still leads: no write may follow.
    func fenced() throws(NotLeading) {
        guard writeFence() else { throw NotLeading() }
    }

    /// The lowest replica count, from `current` down to `desired`, at which the ReplicaSet removes no busy
    /// worker. It removes pods that are not ready before ready ones and only then goes by deletion cost
    /// (kube-controller-manager's `ActivePodsWithRanks`), so a busy pod that is not ready would go before
    /// every idle ready pod. Pods as the ReplicaSet would order them: not ready first, then idle before busy.
    static func safeScaleDown(to desired: Int, from current: Int, pods: [PodState], workers: [WorkerActivity]) -> Int {
        var active: [String: Int] = [:]
        for w in workers { if let pod = w.podName { active[pod] = w.active } }
        func busy(_ p: PodState) -> Bool { (active[p.name] ?? 0) > 0 }
        guard pods.contains(where: { !$0.ready && busy($0) }) else { return desired }
        let order = pods.sorted { a, b in
            if a.ready != b.ready { return !a.ready }
            return deletionCost(activeTasks: active[a.name] ?? 0) < deletionCost(activeTasks: active[b.name] ?? 0)
        }
        let removable = order.prefix { !busy($0) }.count
        return max(desired, current - removable)
    }

    /// A pod's `controller.kubernetes.io/pod-deletion-cost` for `activeTasks` running tasks: 1000 per task,
    /// saturating, within 0...Int32.max (the API server refuses a value outside int32; a heartbeat's
    /// `active` is untrusted and may be anything).
    public static func deletionCost(activeTasks: Int) -> Int {
        guard activeTasks > 0 else { return 0 }
        let (product, overflow) = activeTasks.multipliedReportingOverflow(by: 1000)
        return overflow ? Int(Int32.max) : min(product, Int(Int32.max))
    }
}

/// A write was skipped because this replica can no longer prove that it holds the leader Lease.
public struct NotLeading: Error, CustomStringConvertible {
    public var description: String { "skipped: this replica can no longer prove it holds the leader Lease (another may lead now)" }
}
