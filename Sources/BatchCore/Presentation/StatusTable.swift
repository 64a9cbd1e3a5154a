/// The `batchctl status` table: one row per queue, the spreadsheet and the queue-length page in one.

import MemberwiseInit

@MemberwiseInit(.public)
public struct StatusTable: Sendable {
    public var thresholds: DepthThresholds
    /// ANSI colours for depth and phase (on a terminal, unless NO_COLOR is set).
    public var color: Bool
    /// `-o wide`: also claimed-at, busy workers, stranded tasks (with the first redelivery), approved band
    /// and maxReplicas, and the current claim's replica-hours (USED, from the usage ledger).
    public var wide: Bool = false

    /// Renders `queues` as seen at `now`.
    public func render(_ queues: [BatchQueue], now: KubeTime) -> String {
        var header = ["QUEUE", "HOLDER", "REASON", "EXPIRES", "DEPTH", "INFLIGHT", "READY/DESIRED", "PHASE"]
        if wide { header += ["CLAIMED", "BUSY", "STRANDED", "BAND", "MAX", "USED"] }
        var rows: [[Cell]] = [header.map { Cell($0) }]
        for q in queues {
            let r = q.spec.reservation
            let s = q.status
            var row = [
                Cell(q.metadata.name ?? q.queueName),
                Cell(r?.holder ?? "-"),
                Cell(r?.reason.map { Self.truncate($0, 32) } ?? "-"),
                Cell(r.map { "\(TimeText.utc($0.expiresAt)) (\(TimeText.relative($0.expiresAt, now: now)))" } ?? "-"),
                depthCell(s?.depth),
                Cell(s?.inFlight.map(Self.grouped) ?? "?"),
                Cell("\(s?.readyReplicas.map(String.init) ?? "?")/\(s?.desiredReplicas.map(String.init) ?? "?")"),
                phaseCell(q),
            ]
            if wide {
                row += [Cell(r.map { TimeText.utc($0.claimedAt) } ?? "-"), Cell(s?.busyWorkers.map(String.init) ?? "?"),
                        Self.strandedCell(s),
                        Cell(r?.approvedBand ?? "-"), Cell(q.spec.maxReplicas.map(String.init) ?? "-"),
                        Cell(s?.usage?.current.map { "\(UsageText.hours($0.replicaHours)) h" } ?? "-")]
            }
            rows.append(row)
        }
        let widths = header.indices.map { i in rows.map { $0[i].text.count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { i, cell in
                let padded = i == row.count - 1 ? cell.text : cell.text + String(repeating: " ", count: max(0, widths[i] - cell.text.count))
                return cell.paint(padded, color: color)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    struct Cell {
        var text: String
        var code: String?
        init(_ text: String, code: String? = nil) {
            self.text = text.terminalSafe   // user-supplied text never reaches the terminal as control codes
            self.code = code
        }
        func paint(_ s: String, color: Bool) -> String {
            guard color, let code else { return s }
            // Colour the value, not the padding after it.
            let trimmed = s.prefix(text.count)
            return "\u{1B}[\(code)m\(trimmed)\u{1B}[0m" + s.dropFirst(text.count)
        }
    }

    /// "1 (redelivered 15:02:00 UTC)" while tasks are stranded, else "-".
    static func strandedCell(_ s: BatchQueueStatus?) -> Cell {
        guard let n = s?.stranded, n > 0 else { return Cell("-") }
        return Cell(Self.grouped(n) + (s?.strandedRedeliveryAt.map { " (redelivered \(TimeText.utc($0)))" } ?? ""), code: "33")
    }

    /// Depth in the team's terms: under `good` green, under `fine` plain, up to `careful` yellow, from `careful` red.
    func depthCell(_ depth: Int?) -> Cell {
        guard let depth else { return Cell("?") }
        let code: String? = depth < thresholds.good ? "32" : depth < thresholds.fine ? nil : depth < thresholds.careful ? "33" : "31"
        return Cell(Self.grouped(depth), code: code)
    }

    func phaseCell(_ q: BatchQueue) -> Cell {
        let phase = q.status?.phase ?? .unknown
        // A guard holds the ramp: say so at a glance (`batchctl describe` names the guard and its value).
        if let guarded = q.status?.conditions?.first(where: { $0.type == ConditionType.guarded }), guarded.status == "True" {
            return Cell("\(phase.rawValue) (guard-held)", code: "33")
        }
        switch phase {
        case .orphaned: return Cell(phase.rawValue, code: "31")
        case .unknown: return Cell(phase.rawValue, code: "33")
        case .running: return Cell(phase.rawValue, code: "32")
        default: return Cell(phase.rawValue)
        }
    }

    /// 1200 → "1,200".
    static func grouped(_ n: Int) -> String {
        let digits = String(abs(n))
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    static func truncate(_ s: String, _ n: Int) -> String {
        let oneLine = s.split(whereSeparator: \.isNewline).joined(separator: " ")
        return oneLine.count <= n ? oneLine : String(oneLine.prefix(n - 1)) + "…"
    }
}
