// The plan of writes: what the controller changes in the cluster after `decideAll`, in which order, and which
// failure stops which later write. Pure, like `decide`: the Reconciler executes the writes one by one and
// records what failed (see Controller/Reconciler.swift).

import MemberwiseInit

/// One write of the controller to the cluster (or the webhook), on one BatchQueue.
public enum Write: Hashable, Sendable {
    /// Store `spec.reservation` clamped to the policy (before anything is decided from it).
    case clampReservation(Reservation)
    /// Set a pod's `controller.kubernetes.io/pod-deletion-cost` (before a scale-down, so idle pods go first).
    case deletionCost(pod: String, cost: Int)
    /// Set a Deployment's replicas through its `/scale` subresource.
    case scale(deployment: String, from: Int, to: Int)
    /// Clear `spec.reservation`: it expired (`.expired`), or a `--release-when-done` claim's work is done (`.workDone`).
    case clearReservation(ClaimEnd)
    /// Write the full status through the `/status` subresource.
    case status(BatchQueueStatus)
    /// Record an Event on the BatchQueue (the executor puts the BatchQueue as last stored in it).
    case event(ControllerEvent)
    /// Send a reminder beyond Events (the webhook), when one is configured.
    case notify(Reminder)

    /// What a failure of this write skips among the writes after it (see `WritePlan.skipped(after:in:)`).
    public var onFailure: WriteFailure {
        switch self {
        case .deletionCost:
            // A pod left with the wrong cost could be the one the ReplicaSet removes: no scale-down without them.
            return .skipsTheScale
        case .clampReservation:
            // Its Event says the reservation was clamped.
            return .skipsTheRest
        case .clearReservation(.workDone):
            // Not released (the holder may have just changed it): no status or message saying it was; the next pass decides again.
            return .skipsTheRest
        case .status:
            // Reminders are recorded in status before they are sent, so a failed write cannot send one twice.
            return .skipsTheRest
        case .scale, .clearReservation, .event, .notify:
            return .skipsNothing
        }
    }
}

/// Which later writes of the same plan a failed write skips.
public enum WriteFailure: Hashable, Sendable {
    /// None: the later writes go ahead.
    case skipsNothing
    /// The later writes up to and including the next `.scale` (a scale-down waits for its deletion costs).
    case skipsTheScale
    /// Every later write of the plan.
    case skipsTheRest
}

/// A scale-down held back in part: a busy worker's pod is not ready, and the ReplicaSet removes pods that are
/// not ready first, whatever their deletion cost.
public struct HeldScaleDown: Hashable, Sendable {
    public var deployment: String
    /// The replicas `decide` chose.
    public var decided: Int
    /// The replicas scaled to instead.
    public var scalingTo: Int
}

/// The writes for one BatchQueue, in the order they must be made.
@MemberwiseInit(.public)
public struct WritePlan: Hashable, Sendable {
    public var writes: [Write]
    /// Set when part of a scale-down was held back (for the log).
    public var heldScaleDown: HeldScaleDown?

    /// The writes that carry out `decision` for `queue` (as read this pass), in order:
    /// 1. replicas, only when they differ from the Deployment's: first the deletion costs that differ (idle
    ///    pods 0, busy ones 1000 per task) when scaling down busy-aware, then the scale, held at the lowest
    ///    count that removes no busy worker whose pod is not ready (`safeScaleDown`);
    /// 2. the reservation cleared when it expired or its work is done;
    /// 3. the status, when it changed, at most once per `statusMinInterval` (`lastStatusWrite` is when this
    ///    controller last wrote it) unless something important changed;
    /// 4. the Events: the `WorkersMisconfigured` change, each reminder (its Event, then the webhook), the
    ///    "released: work done" notice, then the decision's events (hand-scaled restore, draining busy workers).
    /// Which failure skips which later write: `Write.onFailure`.
    /// - Parameters:
    ///   - busyAware: deletion costs before a scale-down, and no scale-down that removes a busy worker first
    ///     (`BatchConfig.busyAware`).
    ///   - statusMinInterval: at most one status write per queue per this interval, unless something important
    ///     changed (`isImportant(from:to:)`).
    public static func plan(queue q: BatchQueue, decision d: Decision, snapshot: ClusterSnapshot, workers: [WorkerActivity],
                            lastStatusWrite: KubeTime?, now: KubeTime, busyAware: Bool, statusMinInterval: TimeSpan) -> WritePlan {
        var plan = WritePlan(writes: [])
        let name = q.metadata.name ?? q.queueName

        if let decided = d.desiredReplicas, let deployment = snapshot.deployments[q.spec.deployment], decided != deployment.replicas {
            let pods = deployment.pods(among: snapshot.pods)
            let scalingDown = decided < deployment.replicas && busyAware
            let desired = scalingDown ? safeScaleDown(to: decided, from: deployment.replicas, pods: pods, workers: workers) : decided
            if desired != decided {
                plan.heldScaleDown = HeldScaleDown(deployment: deployment.name, decided: decided, scalingTo: desired)
            }
            if desired != deployment.replicas {
                if scalingDown {
                    let active = activeTasks(workers)
                    for pod in pods {
                        let cost = deletionCost(activeTasks: active[pod.name] ?? 0)
                        if pod.deletionCost != cost { plan.writes.append(.deletionCost(pod: pod.name, cost: cost)) }
                    }
                }
                plan.writes.append(.scale(deployment: deployment.name, from: deployment.replicas, to: desired))
            }
        }

        if d.clearReservation {
            plan.writes.append(.clearReservation(d.reason == .workDone ? .workDone : .expired))
        }

        let old = q.status ?? BatchQueueStatus()
        if d.status != old {
            let due = lastStatusWrite.map { now - $0 >= statusMinInterval.duration } ?? true
            if due || isImportant(from: old, to: d.status) { plan.writes.append(.status(d.status)) }
        }

        if let event = workersEvent(queue: q, old: old, new: d.status) { plan.writes.append(.event(event)) }
        var reminders = d.reminders
        if d.reason == .workDone, d.clearReservation, let holder = d.status.usage?.history?.last?.holder {
            reminders.append(Reminder(kind: .releasedWorkDone, queue: name, holder: holder,
                                      message: workDoneText(queue: name, holder: holder, usage: d.status.usage?.history?.last),
                                      nextCommand: "batchctl history \(name)", isWarning: false))
        }
        for reminder in reminders {
            plan.writes.append(.event(ControllerEvent(queue: q, isWarning: reminder.isWarning, reason: reminder.reason, action: "Remind",
                                                      note: String(reminder.message.prefix(1024)))))
            plan.writes.append(.notify(reminder))
        }
        for event in d.events {
            plan.writes.append(.event(decisionEvent(event, queue: q)))
        }
        return plan
    }

    /// The writes that bring a reservation outside `policy` back inside it (the clamp, then a Warning Event
    /// naming each rule), or nil when it is inside. Made before `decide`, which reads the stored result.
    public static func clamp(_ q: BatchQueue, policy: QueuePolicy, now: KubeTime) -> WritePlan? {
        guard let clamp = policy.clamp(q, now: now) else { return nil }
        return WritePlan(writes: [
            .clampReservation(clamp.reservation),
            .event(ControllerEvent(queue: q, isWarning: true, reason: "ReservationClamped", action: "Clamp", note: String(clamp.note.prefix(1024)))),
        ])
    }

    /// The indices of the writes after `failed` that its failure skips.
    public static func skipped(after failed: Int, in writes: [Write]) -> Range<Int> {
        let next = failed + 1
        guard writes.indices.contains(failed), next <= writes.count else { return next..<next }
        switch writes[failed].onFailure {
        case .skipsNothing:
            return next..<next
        case .skipsTheRest:
            return next..<writes.count
        case .skipsTheScale:
            let scale = writes[next...].firstIndex { if case .scale = $0 { true } else { false } }
            return next..<(scale.map { $0 + 1 } ?? next)
        }
    }

    /// Whether a status change must be written at once rather than within `statusMinInterval`: phase, replicas,
    /// work (the idle clock starts from this write), stranded tasks, the guards' or conditions' states,
    /// reminders, or a usage ledger that must be written.
    public static func isImportant(from old: BatchQueueStatus, to new: BatchQueueStatus) -> Bool {
        old.phase != new.phase || old.desiredReplicas != new.desiredReplicas
            || old.hasWork != new.hasWork
            || old.stranded != new.stranded
            || old.guards?.map { "\($0.name)=\($0.state)" } != new.guards?.map { "\($0.name)=\($0.state)" }
            || old.replicas != new.replicas || old.reminders != new.reminders
            || UsageLedger.mustWrite(from: old.usage, to: new.usage, queueIdle: !new.hasWork)
            || old.conditions?.map { "\($0.type)=\($0.status)" } != new.conditions?.map { "\($0.type)=\($0.status)" }
    }

    /// The lowest replica count, from `current` down to `desired`, at which the ReplicaSet removes no busy
    /// worker. It removes pods that are not ready before ready ones and only then goes by deletion cost
    /// (kube-controller-manager's `ActivePodsWithRanks`), so a busy pod that is not ready would go before
    /// every idle ready pod. Pods as the ReplicaSet would order them: not ready first, then idle before busy.
    public static func safeScaleDown(to desired: Int, from current: Int, pods: [PodState], workers: [WorkerActivity]) -> Int {
        let active = activeTasks(workers)
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

    /// The Event for a change of the `WorkersMisconfigured` condition's status between `old` and `new` (written):
    /// a Warning when it becomes True, a Normal one when it turns False after True; nil when its status is unchanged.
    public static func workersEvent(queue: BatchQueue, old: BatchQueueStatus, new: BatchQueueStatus) -> ControllerEvent? {
        let type = ConditionType.workersMisconfigured
        let before = old.conditions?.first { $0.type == type }?.status ?? "False"
        guard let after = new.conditions?.first(where: { $0.type == type }), after.status != before else { return nil }
        let warning = after.status == "True"
        return ControllerEvent(queue: queue, isWarning: warning, reason: warning ? type : after.reason,
                               action: "Check", note: String(after.message.prefix(1024)))
    }

    /// The Event for one of `decide`'s events.
    public static func decisionEvent(_ event: DecisionEvent, queue q: BatchQueue) -> ControllerEvent {
        let name = q.metadata.name ?? q.queueName
        switch event {
        case let .externalScaleRestored(found, restoredTo):
            return ControllerEvent(queue: q, isWarning: true, reason: "ScaleRestored", action: "Scale",
                                   note: "\(q.spec.deployment) was scaled to \(found) outside batchctl; restored to \(restoredTo), as the reservation and policy decide. Use 'batchctl scale \(name) N' to change the holder's ceiling.")
        case let .drainingBusyWorkers(busy, deadline):
            return ControllerEvent(queue: q, isWarning: false, reason: "DrainingBusyWorkers", action: "Scale",
                                   note: "The reservation of \(name) ended while \(busy) worker(s) still ran tasks: idle workers were stopped, the busy ones stop when their tasks finish, at the latest at \(TimeText.utc(deadline)) (busyWorkerGrace).")
        }
    }

    /// The Event, log line and webhook message for a claim the controller released because its work was done:
    /// "released batch1 for alice: work done, 1,204 tasks, 3.2 replica-hours".
    public static func workDoneText(queue name: String, holder: String, usage: ClaimUsage?) -> String {
        let used = usage.map { ", " + UsageText.summary($0) + " (\(UsageText.hours($0.idleReplicaHours)) idle)" } ?? ""
        return "released \(name) for \(holder): work done\(used). Run 'batchctl history \(name)' for the last claims' usage."
    }

    /// Running tasks by pod name, from the workers' heartbeats.
    static func activeTasks(_ workers: [WorkerActivity]) -> [String: Int] {
        var active: [String: Int] = [:]
        for w in workers { if let pod = w.podName { active[pod] = w.active } }
        return active
    }
}

extension ControllerEvent: Hashable {
    public func hash(into hasher: inout Hasher) {
        hasher.combine(queue)
        hasher.combine(isWarning)
        hasher.combine(reason)
        hasher.combine(action)
        hasher.combine(note)
    }
}
