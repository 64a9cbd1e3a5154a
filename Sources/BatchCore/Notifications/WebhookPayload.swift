/// The bodies posted to the reminder webhook. Pure: the same reminder gives the same bytes.
///
/// - `slack`: `{"text": "..."}`, which Slack, Mattermost, Rocket.Chat and most chat webhooks accept.
/// - `json`: every field of the reminder, the queue and its reservation, with UTC timestamps, so a
///   receiver can route on `reason`, `holder` or `namespace` without parsing the message.
public enum WebhookPayload {
    /// The body for one reminder.
    /// - Parameters:
    ///   - reminder: what `decide` produced.
    ///   - queue: the BatchQueue the reminder's Event is on (its reservation as read in that pass).
    ///   - now: when it was decided.
    public static func reminder(_ reminder: Reminder, queue: BatchQueue, format: WebhookSettings.Format, now: KubeTime) -> [UInt8] {
        switch format {
        case .slack:
            return Array(JSONText.object([("text", .string(reminder.message))]).utf8)
        case .json:
            var fields: [(String, JSONText)] = [
                ("type", .string("reminder")),
                ("reason", .string(reminder.reason)),
                ("severity", .string(reminder.isWarning ? "Warning" : "Normal")),
                ("queue", .string(reminder.queue)),
                ("celeryQueue", .string(queue.queueName)),
                ("namespace", queue.metadata.namespace.map(JSONText.string) ?? .null),
                ("deployment", .string(queue.spec.deployment)),
                ("holder", reminder.holder.map(JSONText.string) ?? .null),
                ("message", .string(reminder.message)),
                ("nextCommand", .string(reminder.nextCommand)),
                ("sentAt", .string(now.rfc3339)),
            ]
            fields.append(("reservation", queue.spec.reservation.map(reservation) ?? .null))
            fields.append(("text", .string(reminder.message)))
            return Array(JSONText.object(fields).utf8)
        }
    }

    /// The body for a `batchctl remind` digest.
    public static func digest(_ digest: ReminderDigest, format: WebhookSettings.Format) -> [UInt8] {
        switch format {
        case .slack:
            return Array(JSONText.object([("text", .string(digest.text))]).utf8)
        case .json:
            let rows: [JSONText] = digest.rows.map { r in
                .object([
                    ("queue", .string(r.queue)),
                    ("holder", r.holder.map(JSONText.string) ?? .null),
                    ("claimedAt", r.claimedAt.map { .string($0.rfc3339) } ?? .null),
                    ("expiresAt", r.expiresAt.map { .string($0.rfc3339) } ?? .null),
                    ("idleSince", r.idleSince.map { .string($0.rfc3339) } ?? .null),
                    ("phase", .string(r.phase)),
                    ("replicas", r.replicas.map { .number(Int64($0)) } ?? .null),
                    ("desiredReplicas", r.desiredReplicas.map { .number(Int64($0)) } ?? .null),
                    ("depth", r.depth.map { .number(Int64($0)) } ?? .null),
                    ("nextCommand", r.nextCommand.map(JSONText.string) ?? .null),
                ])
            }
            return Array(JSONText.object([
                ("type", .string("digest")),
                ("generatedAt", .string(digest.now.rfc3339)),
                ("namespace", .string(digest.namespace)),
                ("queues", .array(rows)),
                ("text", .string(digest.text)),
            ]).utf8)
        }
    }

    static func reservation(_ r: Reservation) -> JSONText {
        .object([
            ("holder", .string(r.holder)),
            ("reason", r.reason.map(JSONText.string) ?? .null),
            ("claimedAt", .string(r.claimedAt.rfc3339)),
            ("expiresAt", .string(r.expiresAt.rfc3339)),
            ("replicas", .number(Int64(r.replicas))),
            ("approvedBand", r.approvedBand.map(JSONText.string) ?? .null),
        ])
    }
}

/// A minimal JSON writer (BatchCore has no Foundation): keys keep the order given.
indirect enum JSONText: CustomStringConvertible {
    case string(String)
    case number(Int64)
    case null
    case array([JSONText])
    case object([(String, JSONText)])

    var description: String {
        switch self {
        case .string(let s): return Self.quote(s)
        case .number(let n): return String(n)
        case .null: return "null"
        case .array(let items): return "[" + items.map(\.description).joined(separator: ",") + "]"
        case .object(let fields): return "{" + fields.map { Self.quote($0.0) + ":" + $0.1.description }.joined(separator: ",") + "}"
        }
    }

    var utf8: String.UTF8View { description.utf8 }

    /// RFC 8259 string escaping (`JSONString`).
    static func quote(_ s: String) -> String { JSONString.quoted(s) }
}
