/// What the controller saw in Redis for one queue at one moment.

import MemberwiseInit

@MemberwiseInit(.public)
public struct QueueObservation: Sendable, Hashable {
    /// Σ LLEN over the queue's priority lists.
    public var depth: Int
    /// Entries of `unacked` routed to the queue (reserved, ETA, or running with acks_late).
    public var inFlight: Int
    /// Workers of the queue's Deployment whose heartbeat reports active tasks.
    public var busyWorkers: Int
    /// The in-flight entries no live worker can hold (see `StrandedTasks.classify`); part of `inFlight`.
    public var stranded: StrandedTasks = .none

    /// In-flight entries a live worker may hold (reserved, prefetched, ETA, executing with acks_late).
    public var heldInFlight: Int { max(0, inFlight - stranded.count) }

    /// Queued, held in-flight or running work exists. Stranded entries are not work: no worker can
    /// run them until Celery redelivers them (see `Decider`, which counts them again once they are due).
    public var hasWork: Bool { Self.hasWork(depth: depth, inFlight: inFlight, stranded: stranded.count, busyWorkers: busyWorkers) }

    /// The one "has work" rule, also applied to a recorded status (`BatchQueueStatus.hasWork`, which the
    /// reminder digest and the status-write throttle read): tasks are queued, in flight beyond the stranded
    /// ones, or running. Compares, never adds, so no count (from Redis or an API object) can overflow it.
    public static func hasWork(depth: Int, inFlight: Int, stranded: Int, busyWorkers: Int) -> Bool {
        depth > 0 || inFlight > stranded || busyWorkers > 0
    }
}

/// Everything `decide` looks at for one queue. All of it is data: `decide` reads no clock and does no I/O.
public struct DecideInput: Sendable {
    /// The BatchQueue as last read (spec and the status the controller wrote before).
    public var queue: BatchQueue
    /// The Redis observation, or nil when Redis is unreachable or the data is stale.
    public var observation: QueueObservation?
    /// Why the observation is missing, for the condition message.
    public var unknownReason: String
    /// The worker Deployment as observed (`spec.replicas`, `status.readyReplicas`), or nil when it does not exist.
    public var deployment: DeploymentState?
    /// Redis memory, for the orphaned-tasks and memory-high messages.
    public var redisMemory: RedisMemoryReading?
    /// The time of this pass.
    public var now: KubeTime
    /// Replicas still available under `totalReplicaBudget` for this queue: computed by `decideAll` (callers
    /// do not pass it); unlimited for a lone `decide` unless a test sets it.
    public var budgetRemaining: Int = .max
    /// This queue carries the cluster-wide reminders (Redis memory high): their Event goes on it and its
    /// `status.reminders` records them. `decideAll` sets it on exactly one queue, the first by name (callers do
    /// not pass it).
    public var carriesClusterReminders = false
    /// Queue names and depths across the cluster, deepest first, for the cluster-wide messages (set by
    /// `decideAll`; callers do not pass it).
    public var clusterDepths: [QueueDepth] = []
    /// This pass's reading of each guard, by expression (one query per expression, shared by every queue).
    public var guards: [String: GuardReading]

    public init(queue: BatchQueue, observation: QueueObservation?, unknownReason: String = "Redis could not be read",
                deployment: DeploymentState?, redisMemory: RedisMemoryReading? = nil,
                now: KubeTime, guards: [String: GuardReading] = [:]) {
        self.queue = queue
        self.observation = observation
        self.unknownReason = unknownReason
        self.deployment = deployment
        self.redisMemory = redisMemory
        self.now = now
        self.guards = guards
    }
}

/// A queue's name and observed depth, for cluster-wide messages.
@MemberwiseInit(.public)
public struct QueueDepth: Sendable, Hashable {
    public var queue: String
    public var depth: Int
}

/// Why `decide` chose what it chose; used in logs, events, metrics and tests.
public enum DecisionReason: String, Sendable, Hashable, CaseIterable {
    /// An admin paused the queue: replicas are left alone.
    case paused = "Paused"
    /// The worker Deployment does not exist: nothing to scale.
    case deploymentMissing = "DeploymentMissing"
    /// Redis could not be read: replicas are held, never lowered on missing data.
    case observationUnknown = "ObservationUnknown"
    /// No reservation and no tasks: zero.
    case free = "Free"
    /// No reservation but tasks are waiting: zero, and a warning.
    case orphanedTasks = "OrphanedTasks"
    /// The reservation ended: zero (the controller clears it).
    case expired = "ReservationExpired"
    /// The reservation ended while workers still run tasks: only busy workers are kept.
    case drainingBusyWorkers = "DrainingBusyWorkers"
    /// Busy workers exceeded `busyWorkerGrace` after the reservation ended: zero.
    case drainGraceExceeded = "DrainGraceExceeded"
    /// Work is present and replicas are at the target.
    case atTarget = "AtTarget"
    /// Work is present: one ramp step up.
    case rampingUp = "RampingUp"
    /// Work is present but the ramp interval has not passed since the last step.
    case rampWaiting = "RampWaiting"
    /// Above the target (ceiling lowered, or fewer tasks): down to the target.
    case scalingDown = "ScalingDown"
    /// Busy workers keep replicas above what the target or idleness would give.
    case busyWorkersFloor = "BusyWorkersFloor"
    /// Reserved and idle, but not yet for `idleAfter`: replicas held, none added.
    case waitingForWork = "WaitingForWork"
    /// Reserved and idle for `idleAfter`: zero until work arrives.
    case idleSleeping = "IdleSleeping"
    /// The cluster budget leaves this queue fewer replicas than its target.
    case budgetLimited = "BudgetLimited"
    /// A `--release-when-done` claim had work, drained and stayed idle for `idleAfter`: released (the
    /// controller clears it), zero.
    case workDone = "WorkDone"
    /// A guard of the policy is not healthy: replicas are held, no step up.
    case guardHeld = "GuardHeld"
    /// A guard has failed for `rampUp.stepBackAfter`: one replica came off.
    case guardSteppedBack = "GuardSteppedBack"
}

/// Something worth an Event besides reminders.
public enum DecisionEvent: Sendable, Hashable {
    /// Someone else set the Deployment's replicas; the controller restores its decision.
    case externalScaleRestored(found: Int, restoredTo: Int)
    /// The reservation ended (released or expired) while workers still ran tasks: idle workers are stopped
    /// at once, these `busy` ones when their tasks finish, at the latest at `deadline`. Emitted once, when
    /// draining starts.
    case drainingBusyWorkers(busy: Int, deadline: KubeTime)
}

/// The outcome of `decide` for one queue.
public struct Decision: Sendable, Hashable {
    /// Replicas the Deployment should have, or nil to leave it alone (paused, Deployment missing).
    public var desiredReplicas: Int?
    public var reason: DecisionReason
    public var phase: BatchQueuePhase
    /// The status to write; the controller writes it only when it differs from the current one.
    public var status: BatchQueueStatus
    /// The reservation expired: the controller clears `spec.reservation` (with the resourceVersion it read).
    public var clearReservation: Bool
    public var reminders: [Reminder]
    public var events: [DecisionEvent]
    /// The guards that held this queue's ramp this pass (for `batchctl_guard_holds_total`).
    public var heldBy: [String] = []
}

/// Condition types batchctl maintains on a BatchQueue.
public enum ConditionType {
    /// Redis was read this pass.
    public static let redisReachable = "RedisReachable"
    /// The total replica budget held the queue below its target.
    public static let budgetLimited = "BudgetLimited"
    /// The reservation ended while workers were still busy; they may finish.
    public static let draining = "Draining"
    /// The worker Deployment exists.
    public static let deploymentFound = "DeploymentFound"
    /// In-flight tasks wait for a worker that died: Celery redelivers them after its visibility timeout.
    public static let tasksStranded = "TasksStranded"
    /// No valid BatchQueuePolicy named `default`: the embedded defaults apply (set by the controller, not `decide`).
    public static let policyDefaults = "PolicyDefaults"
    /// The worker Deployment's celery command consumes another queue than `spec.queue`, or names its workers
    /// otherwise than after their pods (set by the controller from `DoctorRules.workersCondition`, not `decide`).
    public static let workersMisconfigured = "WorkersMisconfigured"
    /// A guard of the BatchQueuePolicy holds the ramp (failing, unknown, or Prometheus unreachable).
    public static let guarded = "Guarded"
}

/// A condition to set: its type, whether it holds, and why.
@MemberwiseInit(.public)
public struct ConditionUpdate: Sendable, Hashable {
    public var type: String
    public var value: Bool
    public var reason: String
    public var message: String
}

extension BatchQueueStatus {
    /// Sets (or adds) a condition; `lastTransitionTime` moves only when its status changes.
    public mutating func setCondition(_ update: ConditionUpdate, now: KubeTime, generation: Int64?) {
        var all = conditions ?? []
        let s = update.value ? "True" : "False"
        let transition = all.first { $0.type == update.type }.flatMap { $0.status == s ? $0.lastTransitionTime : nil } ?? now
        let c = Condition(type: update.type, status: s, reason: update.reason, message: update.message,
                          lastTransitionTime: transition, observedGeneration: generation)
        if let i = all.firstIndex(where: { $0.type == update.type }) { all[i] = c } else { all.append(c) }
        conditions = all
    }
}

/// The scaling and reminder policy (see ARCHITECTURE.md, "decide"). Pure: same input, same output.
public func decide(_ input: DecideInput, policy: BatchConfig) -> Decision {
    var d = Decider(input: input, policy: policy)
    return d.run()
}

/// Decides every queue with the cluster budget shared in claim order: paused, unknown and unreserved
/// (draining) queues keep what they hold first, then reserved queues by `claimedAt`, then name.
///
/// Cluster-wide reminders (Redis memory high) are decided once per pass, by the first queue by name:
/// its Event carries them and its `status.reminders` records them, so a restart or a leader change
/// sends none twice (a queue added with an earlier name may send one early repeat; that is all).
/// - Parameter inputs: one input per queue; `budgetRemaining`, `carriesClusterReminders` and
///   `clusterDepths` in each are ignored and computed here.
/// - Returns: decisions in the same order as `inputs`.
public func decideAll(_ inputs: [DecideInput], policy: BatchConfig) -> [Decision] {
    func claimKey(_ i: DecideInput) -> (Int, Int64, String) {
        let q = i.queue
        guard let r = q.spec.reservation, !(q.spec.paused ?? false), i.observation != nil, r.expiresAt > i.now else {
            return (0, 0, q.metadata.name ?? "")
        }
        return (1, r.claimedAt.microsecondsSinceEpoch, q.metadata.name ?? "")
    }
    let order = inputs.indices.sorted { claimKey(inputs[$0]) < claimKey(inputs[$1]) }
    let carrier = inputs.indices.min { (inputs[$0].queue.metadata.name ?? "") < (inputs[$1].queue.metadata.name ?? "") }
    let depths = inputs.compactMap { i in i.observation.map { QueueDepth(queue: i.queue.metadata.name ?? i.queue.queueName, depth: $0.depth) } }
        .sorted { ($0.depth, $1.queue) > ($1.depth, $0.queue) }
    var remaining = policy.totalReplicaBudget
    var out = [Decision?](repeating: nil, count: inputs.count)
    for i in order {
        var input = inputs[i]
        input.budgetRemaining = max(0, remaining)
        input.carriesClusterReminders = i == carrier
        input.clusterDepths = i == carrier ? depths : []
        let decision = decide(input, policy: policy)
        remaining -= decision.desiredReplicas ?? input.deployment?.replicas ?? 0
        out[i] = decision
    }
    return out.map { $0! }
}

private struct Decider {
    let input: DecideInput
    let policy: BatchConfig
    var status: BatchQueueStatus
    var reminders: [Reminder] = []
    var events: [DecisionEvent] = []
    var clearReservation = false
    var heldBy: [String] = []
    var log: ReminderLog
    /// The stranded entries as observed (before any due ones were counted as work again).
    let strandedSeen: StrandedTasks

    init(input: DecideInput, policy: BatchConfig) {
        var input = input
        // Busy-awareness off (comparisons only): running tasks are invisible, as to a depth-only scaler.
        if !policy.busyAware { input.observation?.busyWorkers = 0 }
        // Stranded entries whose redelivery time has come are work again: kombu restores them only when a
        // consumer polls, so a worker must run (its start-up sweep puts them back on the queue).
        strandedSeen = input.observation?.stranded ?? .none
        if let first = strandedSeen.firstDeliveredAt, input.now >= first.adding(policy.celery.visibilityTimeout) {
            input.observation?.stranded = .none
        }
        self.input = input
        self.policy = policy
        status = input.queue.status ?? BatchQueueStatus()
        log = status.reminders ?? ReminderLog()
    }

    var now: KubeTime { input.now }
    /// `now` as written to the status times `decide` later compares with (see `KubeTime.roundedUpToSecond`):
    /// stored to whole seconds, an interval measured from it is never cut short.
    var stamp: KubeTime { input.now.roundedUpToSecond }
    var name: String { input.queue.metadata.name ?? input.queue.queueName }
    var spec: BatchQueueSpec { input.queue.spec }

    mutating func run() -> Decision {
        let old = input.queue.status ?? BatchQueueStatus()
        status.observedGeneration = input.queue.metadata.generation
        status.replicas = input.deployment?.replicas
        status.readyReplicas = input.deployment?.readyReplicas
        if let o = input.observation {
            status.depth = o.depth
            status.inFlight = o.inFlight
            status.busyWorkers = o.busyWorkers
            reportStranded()
            // lastActiveAt drives idleness. While work goes on it is refreshed only when older than half
            // of idleAfter (so an unchanging queue causes no status writes); when work stops it is stamped
            // at once, so the idle clock starts when the work ended.
            let old = input.queue.status
            let hadWork = old?.hasWork ?? false
            if o.hasWork {
                let refresh = policy.idleAfter.duration / 2
                if status.lastActiveAt.map({ now - $0 >= refresh }) ?? true {
                    status.lastActiveAt = stamp
                }
            } else if hadWork {
                status.lastActiveAt = stamp
            }
            setCondition(ConditionType.redisReachable, true, "Observed", "Queue depth, in-flight tasks and worker activity were read from Redis.")
        } else {
            setCondition(ConditionType.redisReachable, false, "RedisUnreachable", "\(input.unknownReason); replicas are held until Redis can be read again.")
        }

        let (chosen, chosenReason, phase) = choose()
        let (desired, reason) = applyGuards(chosen, chosenReason)
        if input.carriesClusterReminders { remindRedisMemory() }

        if desired != nil || input.deployment != nil {
            setCondition(ConditionType.deploymentFound, input.deployment != nil,
                         input.deployment != nil ? "Found" : "NotFound",
                         input.deployment != nil ? "Deployment \(spec.deployment) exists." : "Deployment \(spec.deployment) was not found in the namespace; create it or fix spec.deployment.")
        }
        if reason == .budgetLimited {
            setCondition(ConditionType.budgetLimited, true, "BudgetLimited", "The cluster's totalReplicaBudget (\(policy.totalReplicaBudget)) is used by queues claimed earlier; replicas are held at \(desired ?? 0).")
        } else if hasCondition(ConditionType.budgetLimited) {
            setCondition(ConditionType.budgetLimited, false, "WithinBudget", "The queue's target fits in the cluster's totalReplicaBudget.")
        }

        // Someone else scaled the Deployment: restore the decision, with one event. A replica count equal
        // to the one last observed is the watch cache lagging behind our own write, not someone else.
        if let current = input.deployment?.replicas, let desiredNow = desired, current != desiredNow,
           let lastDesired = old.desiredReplicas, current != lastDesired, current != old.replicas {
            events.append(.externalScaleRestored(found: current, restoredTo: desiredNow))
        }
        if let desiredNow = desired, let current = input.deployment?.replicas, desiredNow > current {
            status.lastScaleUpAt = stamp
        }
        status.desiredReplicas = desired ?? input.deployment?.replicas
        status.phase = phase
        status.reminders = log == ReminderLog() ? nil : log
        return Decision(desiredReplicas: desired, reason: reason, phase: phase, status: status,
                        clearReservation: clearReservation, reminders: reminders, events: events, heldBy: heldBy)
    }

    /// The rules of ARCHITECTURE.md "decide", in order.
    mutating func choose() -> (Int?, DecisionReason, BatchQueuePhase) {
        // 1. Paused: report, never touch replicas.
        if spec.paused == true { return (nil, .paused, .paused) }
        guard let deployment = input.deployment else { return (nil, .deploymentMissing, .unknown) }
        let current = deployment.replicas
        let reservation = spec.reservation
        let expired = reservation.map { now >= $0.expiresAt } ?? false
        if let r = reservation {
            if expired {
                clearReservation = true
                remindExpired(r)
            } else {
                remindExpiring(r)   // time alone decides these: no Redis data needed
            }
        }
        // 2. Unknown observation: hold. Never scale down on missing data.
        guard let obs = input.observation else { return (current, .observationUnknown, .unknown) }

        // 3. Free, released or expired: zero, but busy workers may finish within the grace period.
        guard let r = reservation, !expired else {
            log.sleepingAt = nil
            let phase: BatchQueuePhase = obs.depth > 0 ? .orphaned : .free
            if obs.depth > 0 { remindOrphaned(obs) }
            // Draining follows the heartbeats; the replicas kept are capped by what runs.
            let busy = min(obs.busyWorkers, current)
            if obs.busyWorkers > 0 {
                let since = status.drainingSince ?? stamp
                status.drainingSince = since
                if now - since < policy.busyWorkerGrace.duration {
                    if input.queue.status?.drainingSince == nil {
                        events.append(.drainingBusyWorkers(busy: busy, deadline: since.adding(policy.busyWorkerGrace)))
                    }
                    setCondition(ConditionType.draining, true, "BusyWorkers", "\(busy) worker(s) still run tasks after the reservation ended; idle workers were stopped, busy ones stop when their tasks finish (at the latest \(TimeText.utc(since.adding(policy.busyWorkerGrace)))).")
                    return (busy, .drainingBusyWorkers, phase)
                }
                setCondition(ConditionType.draining, false, "GraceExceeded", "Busy workers ran past busyWorkerGrace (\(policy.busyWorkerGrace)) after the reservation ended and were stopped.")
                return (0, .drainGraceExceeded, phase)
            }
            status.drainingSince = nil
            if hasCondition(ConditionType.draining) { setCondition(ConditionType.draining, false, "Drained", "No worker is busy.") }
            return (0, expired ? .expired : (obs.depth > 0 ? .orphanedTasks : .free), phase)
        }

        // 4. Reserved.
        status.drainingSince = nil
        if hasCondition(ConditionType.draining) { setCondition(ConditionType.draining, false, "Reserved", "The queue is reserved again.") }
        let ceiling = self.ceiling(r)
        let floor = min(obs.busyWorkers, current)   // never stop a busy worker
        if obs.hasWork {
            log.sleepingAt = nil
            var target = ceiling
            if policy.tasksPerReplica > 0 {
                // ⌈tasks / tasksPerReplica⌉ without overflow: the counts come from Redis (a depth saturates at Int.max).
                let (tasks, overflow) = obs.depth.addingReportingOverflow(obs.inFlight)
                let per = policy.tasksPerReplica
                target = overflow ? ceiling : min(ceiling, max(1, tasks / per + (tasks % per == 0 ? 0 : 1)))
            }
            var reason: DecisionReason = .atTarget
            if target > input.budgetRemaining {
                target = input.budgetRemaining
                reason = .budgetLimited
            }
            if target < floor { return (floor, .busyWorkersFloor, .running) }
            if target < current { return (target, reason == .budgetLimited ? reason : .scalingDown, target > 0 ? .running : .reserved) }
            if target == current { return (current, reason, current > 0 ? .running : .reserved) }
            // Scale up slowly: one step per interval; waking from zero takes the first step at once.
            let every = policy.rampUp.every.duration
            if every == .zero { return (target, reason, .running) }
            if current > 0, let last = status.lastScaleUpAt, now - last < every { return (current, .rampWaiting, .running) }
            let next = min(target, current + policy.rampUp.step)
            return (next, next == target ? reason : .rampingUp, .running)
        }

        // Reserved with no work at all (so no busy worker either).
        let lastActive = max(status.lastActiveAt ?? r.claimedAt, r.claimedAt)
        if now - lastActive >= policy.idleAfter.duration {
            // Release when done: only once work was seen during this claim (a fresh claim waits for its tasks).
            if r.releaseWhenDone == true, let active = status.lastActiveAt, active > r.claimedAt {
                clearReservation = true
                log.sleepingAt = nil
                return (0, .workDone, .free)
            }
            remindSleeping(r, idleSince: lastActive)
            return (0, .idleSleeping, .sleeping)
        }
        let held = min(current, ceiling)
        return (held, held < current ? .scalingDown : .waitingForWork, held > 0 ? .running : .reserved)
    }

    /// The guards of the policy (see `Guard`), for a claimed queue: a step up needs every guard healthy (for its
    /// `for`); a failing or unknown one holds the replicas; one failing for `rampUp.stepBackAfter` takes a replica
    /// off, and one more after each further period (never below the busy workers, nor below 1 while work remains).
    /// The `Guarded` condition names the guards, with a Warning reminder on the first trip and one on recovery.
    mutating func applyGuards(_ desired: Int?, _ reason: DecisionReason) -> (Int?, DecisionReason) {
        let (guards, invalid) = input.queue.guards(policy: policy.policy.guards)
        let claimed = spec.paused != true && spec.reservation.map { now < $0.expiresAt } == true
        let wasHeld = status.conditions?.first { $0.type == ConditionType.guarded }?.status == "True"
        guard !guards.isEmpty, claimed else {
            status.guards = nil
            status.guardSteppedBackAt = nil
            if hasCondition(ConditionType.guarded) {
                setCondition(ConditionType.guarded, false, guards.isEmpty ? "NoGuards" : "NotClaimed",
                             guards.isEmpty ? "The BatchQueuePolicy has no guards." : "Guards apply while the queue is claimed.")
            }
            return (desired, reason)
        }
        let readings = input.guards.merging(invalid.mapValues { GuardReading.unknown(reason: $0) }) { _, bad in bad }
        let verdict = GuardVerdict(guards: guards, readings: readings, previous: status.guards ?? [], now: now)
        status.guards = verdict.statuses
        let holder = spec.reservation?.holder
        if verdict.holding.isEmpty {
            status.guardSteppedBackAt = nil
            let names = guards.map(\.name).joined(separator: ", ")
            setCondition(ConditionType.guarded, false, "GuardsHealthy", "Every guard is healthy (\(names)); the ramp may step up.")
            if wasHeld {
                reminders.append(Reminder(
                    kind: .guardRecovered, queue: name, holder: holder,
                    message: "Every guard of \(name) is healthy again (\(verdict.statuses.map { "\($0.name) = \($0.value ?? "?")" }.joined(separator: ", "))); its ramp resumes.",
                    nextCommand: "batchctl describe \(name)", isWarning: false))
            }
            return (desired, reason)
        }
        let (why, message) = verdict.heldMessage(now: now)
        setCondition(ConditionType.guarded, true, why, message)
        if !wasHeld {
            reminders.append(Reminder(
                kind: .guardTripped, queue: name, holder: holder,
                message: "The ramp of \(name) is held: \(message) Check the service the guard watches; 'batchctl describe \(name)' shows each guard's last value.",
                nextCommand: "batchctl describe \(name)", isWarning: true))
        }
        guard let chosen = desired, let current = input.deployment?.replicas, let obs = input.observation else { return (desired, reason) }
        // Only where the ramp decides (a scale-down for another reason, or draining, goes ahead).
        let ramping: Set<DecisionReason> = [.atTarget, .rampingUp, .rampWaiting, .budgetLimited]
        guard chosen >= current, ramping.contains(reason) else { return (desired, reason) }
        if let since = verdict.failingSince {
            let clock = max(since, status.guardSteppedBackAt ?? since)
            let lowest = max(min(obs.busyWorkers, current), obs.hasWork ? 1 : 0)
            if now - clock >= policy.rampUp.stepBackAfter.duration, current - 1 >= lowest {
                heldBy = verdict.holding.map(\.name)
                status.guardSteppedBackAt = stamp
                return (current - 1, .guardSteppedBack)
            }
        }
        guard chosen > current else { return (desired, reason) }
        heldBy = verdict.holding.map(\.name)
        return (current, .guardHeld)
    }

    /// min(reservation replicas, spec.maxReplicas, the approved band's cap).
    func ceiling(_ r: Reservation) -> Int {
        let bands = policy.bands
        let largest = bands.last?.max ?? 0
        let maxReplicas = spec.maxReplicas ?? largest
        // Without approval, the largest band that needs none; with approval of the largest band, the admin's maxReplicas.
        var bandCap = bands.last(where: { !$0.requiresApproval })?.max ?? 0
        if let approved = r.approvedBand, let i = bands.firstIndex(where: { $0.name == approved }) {
            bandCap = max(bandCap, i == bands.count - 1 ? max(bands[i].max, maxReplicas) : bands[i].max)
        }
        return max(0, min(r.replicas, maxReplicas, bandCap))
    }

    /// Status, condition and the once-per-change reminder for stranded entries.
    mutating func reportStranded() {
        let s = strandedSeen
        let vt = policy.celery.visibilityTimeout
        guard s.count > 0, let first = s.firstDeliveredAt else {
            status.stranded = nil
            status.strandedRedeliveryAt = nil
            log.strandedFor = nil
            if hasCondition(ConditionType.tasksStranded) {
                setCondition(ConditionType.tasksStranded, false, "NoneStranded", "Every in-flight task may be held by a live worker.")
            }
            return
        }
        let redelivery = first.adding(vt)
        status.stranded = s.count
        status.strandedRedeliveryAt = redelivery
        let tasks = s.count == 1 ? "1 task" : "\(s.count) tasks"
        let due = now >= redelivery
        let when = due ? "Celery redelivers \(s.count == 1 ? "it" : "them") once a worker of the Redis database runs (due since \(TimeText.utc(redelivery))), so workers are started"
            : "Celery redelivers \(s.count == 1 ? "it" : "the first") at \(TimeText.utc(redelivery)) (\(TimeText.relative(redelivery, now: now)); visibility_timeout \(vt))"
        setCondition(ConditionType.tasksStranded, true, due ? "RedeliveryDue" : "WaitingForRedelivery",
                     "\(tasks) on \(name) were delivered at \(TimeText.utc(first)) or later to workers that have since died (no live worker holds them); \(when). They do not keep workers up.")
        guard log.strandedFor != first || log.strandedCount != s.count else { return }
        log.strandedFor = first
        log.strandedCount = s.count
        let holder = spec.reservation?.holder
        let sleep = due ? "Workers run so that Celery can put \(s.count == 1 ? "it" : "them") back on the queue." : "Workers sleep until then unless other tasks arrive."
        reminders.append(Reminder(
            kind: .stranded, queue: name, holder: holder,
            message: "\(tasks) on \(name) \(s.count == 1 ? "was" : "were") held by a worker that died (delivered at \(TimeText.utc(first))); Celery redelivers \(s.count == 1 ? "it" : "the first") at \(TimeText.utc(redelivery)) (visibility_timeout \(vt)). \(sleep) To redeliver sooner, lower the Celery app's visibility_timeout (and celery.visibilityTimeout) or see the RUNBOOK's Celery section.",
            nextCommand: "batchctl describe \(name)", isWarning: true))
    }

    // MARK: Reminders (each recorded in the log so it is sent once)

    mutating func remindExpiring(_ r: Reservation) {
        if log.expiringFor != r.expiresAt {
            log.expiringFor = r.expiresAt
            log.expiringSent = nil
        }
        let left = r.expiresAt.secondsSinceEpoch - now.secondsSinceEpoch
        let length = r.expiresAt.secondsSinceEpoch - r.claimedAt.secondsSinceEpoch
        let sent = Set(log.expiringSent ?? [])
        // All thresholds already crossed are marked; one reminder names the nearest. A threshold as long as
        // the whole claim was crossed when it was made (a 1-day claim needs no "expires in 24 h"): marked, not sent.
        let crossed = policy.reminders.expiringBefore.map { $0.milliseconds / 1000 }.filter { left <= $0 && !sent.contains($0) }
        guard !crossed.isEmpty else { return }
        log.expiringSent = (Array(sent) + crossed).sorted(by: >)
        guard crossed.contains(where: { $0 < length }) else { return }
        reminders.append(Reminder(
            kind: .expiringSoon, queue: name, holder: r.holder,
            message: "\(name) is held by \(r.holder) until \(TimeText.utc(r.expiresAt)) (\(TimeText.relative(r.expiresAt, now: now))). Run 'batchctl extend \(name) --for 1d' to keep it, or 'batchctl release \(name)' if you are done.",
            nextCommand: "batchctl extend \(name) --for 1d", isWarning: false))
    }

    mutating func remindExpired(_ r: Reservation) {
        guard log.expiredFor != r.expiresAt else { return }
        log.expiredFor = r.expiresAt
        reminders.append(Reminder(
            kind: .expired, queue: name, holder: r.holder,
            message: "\(r.holder)'s reservation of \(name) expired at \(TimeText.utc(r.expiresAt)) (\(TimeText.relative(r.expiresAt, now: now))); it was released and its workers scaled to zero. Run 'batchctl claim \(name)' to claim it again.",
            nextCommand: "batchctl claim \(name)", isWarning: true))
    }

    mutating func remindSleeping(_ r: Reservation, idleSince: KubeTime) {
        if log.sleepingAt == nil {
            log.sleepingAt = now
            log.idleAt = now
            reminders.append(Reminder(
                kind: .sleeping, queue: name, holder: r.holder,
                message: "\(name) (held by \(r.holder)) has had no tasks since \(TimeText.utc(idleSince)) (\(TimeText.relative(idleSince, now: now))), so its workers were scaled to zero; they wake when tasks arrive. If you are done, run 'batchctl release \(name)'.\(UsageText.soFar(input.queue.status, reservation: r, queue: name))",
                nextCommand: "batchctl release \(name)", isWarning: false))
            return
        }
        let lastReminded = log.idleAt ?? log.sleepingAt ?? now
        if now - lastReminded >= policy.reminders.idleEvery.duration {
            log.idleAt = now
            reminders.append(Reminder(
                kind: .idle, queue: name, holder: r.holder,
                message: "\(name) is still held by \(r.holder) but has been idle since \(TimeText.utc(idleSince)) (\(TimeText.relative(idleSince, now: now))); the reservation runs until \(TimeText.utc(r.expiresAt)). Run 'batchctl release \(name)' to give it back.\(UsageText.soFar(input.queue.status, reservation: r, queue: name))",
                nextCommand: "batchctl release \(name)", isWarning: false))
        }
    }

    mutating func remindOrphaned(_ obs: QueueObservation) {
        if let last = log.orphanedAt, now - last < policy.reminders.orphanedEvery.duration { return }
        log.orphanedAt = now
        var memory = ""
        if let m = input.redisMemory {
            memory = m.usedPercent.map { " Redis uses \(m.used / 1_048_576) MiB of \(m.max / 1_048_576) MiB (\($0)%)." } ?? " Redis uses \(m.used / 1_048_576) MiB (no maxmemory set)."
        }
        reminders.append(Reminder(
            kind: .orphaned, queue: name, holder: nil,
            message: "\(obs.depth) task(s) are waiting on \(name), which nobody has claimed, so no worker consumes them and Redis keeps growing.\(memory) Run 'batchctl claim \(name)' to process them, or stop sending tasks to \(name).",
            nextCommand: "batchctl claim \(name)", isWarning: true))
    }

    /// Redis `used_memory` above `redisMemoryHighPercent` of `maxmemory` (0 = no limit: never), at most
    /// once per `orphanedEvery` while it stays high. Redis at maxmemory refuses new tasks or evicts them.
    mutating func remindRedisMemory() {
        guard let m = input.redisMemory, m.isAbove(percent: policy.reminders.redisMemoryHighPercent) else { return }
        if let last = log.redisMemoryHighAt, now - last < policy.reminders.orphanedEvery.duration { return }
        log.redisMemoryHighAt = now
        let deepest = input.clusterDepths.filter { $0.depth > 0 }.prefix(3)
        let queues = deepest.isEmpty ? "" : " Deepest queues: " + deepest.map { "\($0.queue) (\($0.depth) tasks)" }.joined(separator: ", ") + "."
        reminders.append(Reminder(
            kind: .redisMemoryHigh, queue: name, holder: nil,
            message: "Redis uses \(m.used / 1_048_576) MiB of its \(m.max / 1_048_576) MiB maxmemory (\(m.usedPercent ?? 0)%), above reminders.redisMemoryHighPercent (\(policy.reminders.redisMemoryHighPercent)%); when it is full, Celery producers fail or tasks are evicted.\(queues) Run 'batchctl status' to see which queues hold tasks, then claim them ('batchctl claim QUEUE') or stop sending tasks to them.",
            nextCommand: "batchctl status", isWarning: true))
    }

    // MARK: Conditions (metav1.Condition semantics: the transition time changes only when status flips)

    func hasCondition(_ type: String) -> Bool { status.conditions?.contains { $0.type == type } ?? false }

    mutating func setCondition(_ type: String, _ value: Bool, _ reason: String, _ message: String) {
        status.setCondition(ConditionUpdate(type: type, value: value, reason: reason, message: message), now: now,
                            generation: input.queue.metadata.generation)
    }
}
