import BatchCore
import FoundationEssentials

/// What `batchctl history QUEUE` prints: the claims in the usage ledger, oldest first, the current one last.
public struct UsageHistory: Sendable, Hashable, Codable {
    public var queue: String
    public var claims: [ClaimUsage]

    public init(queue: BatchQueue) {
        self.queue = queue.metadata.name ?? queue.queueName
        let usage = queue.status?.usage
        claims = (usage?.history ?? []) + (usage?.current.map { [$0] } ?? [])
    }

    /// Columns two spaces apart: HOLDER CLAIMED ENDED HOW REPLICA-HOURS IDLE PEAK TASKS.
    public func table(now: KubeTime) -> String {
        guard !claims.isEmpty else { return "No claims of \(queue) recorded yet (the controller records each claim's usage in the BatchQueue's status).\n" }
        var rows = [["HOLDER", "CLAIMED", "ENDED", "HOW", "REPLICA-HOURS", "IDLE", "PEAK", "TASKS"]]
        for c in claims {
            rows.append([c.holder, TimeText.utc(c.claimedAt), c.endedAt.map { TimeText.utc($0) } ?? "-", c.endReason ?? "Held",
                         UsageText.hours(c.replicaHours), UsageText.hours(c.idleReplicaHours), String(c.peakReplicas),
                         UsageText.count(c.tasksCompleted)])
        }
        return QueueDescription.table(rows).joined(separator: "\n") + "\n"
    }

    /// Pretty JSON with sorted keys and a final newline.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
