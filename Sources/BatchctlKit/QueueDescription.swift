import BatchCore
import KubeClient
import MemberwiseInit

/// What `batchctl describe QUEUE` prints: spec, reservation, status, conditions and recent events, in the
/// layout of `kubectl describe`.
@MemberwiseInit(.public)
public struct QueueDescription: Sendable {
    public var queue: BatchQueue
    /// The queue's events, any order; nil when they could not be read (`eventsProblem` says why).
    public var events: [Event]?
    public var eventsProblem: String?
    /// How many of the newest events to show.
    public var eventLimit: Int = 20

    /// Reads the queue's events (`events.k8s.io/v1`, field selector `regarding.kind=BatchQueue,regarding.name=NAME`).
    /// A refusal to list events is not fatal: the description says so instead.
    public static func load(_ name: String, service: ReservationService) async throws -> QueueDescription {
        let queue = try await service.queue(name)
        do {
            let list = try await service.client.list(Event.self, namespace: service.namespace,
                                                     fieldSelector: "regarding.kind=BatchQueue,regarding.name=\(name)")
            return QueueDescription(queue: queue, events: list.items)
        } catch let error as KubeError where error.isForbidden || error.isNotFound {
            return QueueDescription(queue: queue, events: nil, eventsProblem: "cannot list events: \(error.description)")
        }
    }

    /// The text, as seen at `now`.
    public func render(now: KubeTime) -> String {
        var out: [String] = []
        func field(_ label: String, _ value: String, indent: Int = 0) {
            let pad = String(repeating: " ", count: indent)
            out.append(pad + (label + ":").padded(to: max(label.count + 2, 24 - indent)) + value.terminalSafe)
        }
        func when(_ t: KubeTime?) -> String {
            t.map { "\(TimeText.utc($0)) (\(TimeText.relative($0, now: now)))" } ?? "-"
        }
        let m = queue.metadata
        let s = queue.spec
        field("Name", m.name ?? "-")
        field("Namespace", m.namespace ?? "-")
        field("Created", when(m.creationTimestamp))
        field("Queue", queue.queueName)
        field("Deployment", s.deployment)
        field("Max replicas", s.maxReplicas.map(String.init) ?? "- (the largest band's maximum)")
        field("Paused", s.paused == true ? "yes (an admin paused it: the controller reports but does not scale)" : "no")
        if let r = s.reservation {
            out.append("Reservation:")
            field("Holder", r.holder, indent: 2)
            field("Reason", r.reason ?? "-", indent: 2)
            field("Claimed", when(r.claimedAt), indent: 2)
            field("Expires", when(r.expiresAt) + (r.expiresAt <= now ? ", expired: the controller clears it" : ""), indent: 2)
            field("Replicas", "up to \(r.replicas)", indent: 2)
            field("Approved band", r.approvedBand ?? "-", indent: 2)
            field("Release when done", r.releaseWhenDone == true ? "yes (the controller releases it once the queue has drained and stayed idle for idleAfter)" : "no", indent: 2)
        } else {
            field("Reservation", "none (free: run 'batchctl claim \(m.name ?? queue.queueName)')")
        }
        if let st = queue.status {
            out.append("Status:")
            field("Phase", st.phase?.rawValue ?? "-", indent: 2)
            field("Depth", st.depth.map(String.init) ?? "?", indent: 2)
            field("In flight", st.inFlight.map(String.init) ?? "?", indent: 2)
            field("Busy workers", st.busyWorkers.map(String.init) ?? "?", indent: 2)
            if let stranded = st.stranded, stranded > 0 {
                let redelivery = st.strandedRedeliveryAt.map { ", first redelivered \(when($0)) (delivery + celery.visibilityTimeout)" } ?? ""
                field("Stranded", "\(stranded) of the in-flight tasks were held by workers that died\(redelivery); they do not keep workers up", indent: 2)
            }
            let replicas = "\(st.readyReplicas.map(String.init) ?? "?") ready / \(st.desiredReplicas.map(String.init) ?? "?") desired / \(st.replicas.map(String.init) ?? "?") current"
            field("Replicas", replicas, indent: 2)
            field("Last active", when(st.lastActiveAt), indent: 2)
            if let guards = st.guards, !guards.isEmpty {
                field("Guards", "the BatchQueuePolicy's health checks; a step up needs all Healthy", indent: 2)
                var rows = [["NAME", "STATE", "SINCE", "LAST VALUE", "READ"]]
                rows += guards.map { g in
                    [g.name, g.state + (g.reason.map { " (\($0))" } ?? ""), TimeText.relative(g.since, now: now), g.value ?? "-",
                     g.valueAt.map { TimeText.relative($0, now: now) } ?? "-"]
                }
                out += Self.table(rows).map { "    " + $0 }
            }
            var observed = st.observedGeneration.map { String($0) } ?? "-"
            if let generation = m.generation, let seen = st.observedGeneration, generation != seen {
                observed += " (spec generation \(generation): not yet seen by the controller)"
            }
            field("Observed generation", observed, indent: 2)
            if let u = st.usage?.latest {
                out.append(st.usage?.current != nil ? "Usage (this claim):" : "Usage (last claim, \(u.endReason ?? "ended") \(when(u.endedAt))):")
                field("Holder", u.holder, indent: 2)
                field("Replica-hours", "\(UsageText.hours(u.replicaHours)) (\(UsageText.hours(u.idleReplicaHours)) idle)", indent: 2)
                field("Tasks completed", UsageText.count(u.tasksCompleted), indent: 2)
                field("Peak replicas", String(u.peakReplicas), indent: 2)
                field("First task", when(u.firstTaskAt), indent: 2)
                field("Last task", when(u.lastTaskAt), indent: 2)
                field("History", "\(st.usage?.history?.count ?? 0) claim(s) kept: batchctl history \(m.name ?? queue.queueName)", indent: 2)
            }
        } else {
            field("Status", "none yet (the controller has not reported on this queue)")
        }
        out.append("Conditions:")
        let conditions = queue.status?.conditions ?? []
        if conditions.isEmpty {
            out.append("  <none>")
        } else {
            var rows = [["TYPE", "STATUS", "REASON", "SINCE", "MESSAGE"]]
            rows += conditions.map { [$0.type, $0.status, $0.reason, TimeText.relative($0.lastTransitionTime, now: now), $0.message] }
            out += Self.table(rows).map { "  " + $0 }
        }
        out.append("Events:")
        if let events {
            let newest = events.sorted { Self.lastSeen($0) < Self.lastSeen($1) }.suffix(eventLimit)
            if newest.isEmpty {
                out.append("  <none>")
            } else {
                var rows = [["TYPE", "REASON", "AGE", "FROM", "MESSAGE"]]
                rows += newest.map { e in
                    let count = e.occurrences > 1 ? " (x\(e.occurrences))" : ""
                    return [e.type, e.reason, TimeText.span(seconds: now.secondsSinceEpoch - Self.lastSeen(e).secondsSinceEpoch) + count,
                            e.reporter, e.note ?? ""]
                }
                out += Self.table(rows).map { "  " + $0 }
            }
        } else {
            out.append("  <unknown: \(eventsProblem ?? "not read")>")
        }
        return out.joined(separator: "\n") + "\n"
    }

    static func lastSeen(_ e: Event) -> KubeTime { e.lastSeen }

    /// Left-aligned columns two spaces apart; the last column is not padded.
    static func table(_ rows: [[String]]) -> [String] {
        let rows = rows.map { $0.map(\.terminalSafe) }   // notes and messages are user-supplied
        let columns = rows.map(\.count).max() ?? 0
        let widths = (0..<columns).map { i in rows.map { i < $0.count ? $0[i].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padded(to: widths[i])
            }.joined(separator: "  ")
        }
    }
}
