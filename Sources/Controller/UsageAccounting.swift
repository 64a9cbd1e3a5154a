import BatchCore

/// The usage ledger's edge: which pods run, which are busy, how many tasks each worker completed.
extension Reconciler {
    /// Counts this pass into `decision.status.usage` (see `UsageLedger.account`). Without a Redis reading,
    /// pods count as idle and no tasks are counted (their baselines are kept). Pods that stopped since the
    /// ledger was last written count up to when this controller last saw them, with their worker's last count;
    /// a pod being deleted counts until it is gone (its worker runs until then).
    func accountUsage(_ q: BatchQueue, decision: inout Decision, snapshot: ClusterSnapshot, workers: [WorkerActivity]?, now: KubeTime) {
        let name = q.metadata.name ?? q.queueName
        let pods = snapshot.deployments[q.spec.deployment].map { $0.pods(among: snapshot.pods + snapshot.terminatingPods) } ?? []
        var byPod: [String: WorkerActivity] = [:]
        for w in workers ?? [] { if let pod = w.podName { byPod[pod] = w } }
        var seen = usagePodsSeen[name] ?? [:]
        var counted: [UsagePod] = []
        var running = Set<String>()
        for pod in pods {
            guard let started = pod.workerStartedAt else { continue }
            let w = byPod[pod.name]
            let completed = w.map { max(0, $0.processed - max(0, $0.active)) } ?? seen[pod.name]?.completed
            let p = UsagePod(name: pod.name, startedAt: started, busy: (w?.active ?? 0) > 0, completed: completed)
            counted.append(p)
            running.insert(pod.name)
            seen[pod.name] = UsagePod(name: p.name, startedAt: p.startedAt, busy: p.busy, completed: p.completed, until: now)
        }
        // Stopped pods still owed time: last seen after the ledger as stored was counted.
        let stored = q.status?.usage?.accountedAt?.time
        for (podName, p) in seen where !running.contains(podName) {
            if let until = p.until, let stored, until > stored {
                counted.append(p)
            } else {
                seen[podName] = nil
            }
        }
        usagePodsSeen[name] = seen.isEmpty ? nil : seen
        let ending: ClaimEnd? = !decision.clearReservation ? nil : (decision.reason == .workDone ? .workDone : .expired)
        var ledger = decision.status.usage ?? UsageLedger()
        ledger.account(reservation: q.spec.reservation, ending: ending, pods: counted, now: now)
        decision.status.usage = ledger
    }
}
