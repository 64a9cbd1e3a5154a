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
            return JSONValue.object(["text": .string(reminder.message)]).webhookBody
        case .json:
            return JSONValue.object([
                "type": .string("reminder"),
                "reason": .string(reminder.reason),
                "severity": .string(reminder.isWarning ? "Warning" : "Normal"),
                "queue": .string(reminder.queue),
                "celeryQueue": .string(queue.queueName),
                "namespace": queue.metadata.namespace.map(JSONValue.string) ?? .null,
                "deployment": .string(queue.spec.deployment),
                "holder": reminder.holder.map(JSONValue.string) ?? .null,
                "message": .string(reminder.message),
                "nextCommand": .string(reminder.nextCommand),
                "sentAt": .string(now.rfc3339),
                "reservation": queue.spec.reservation.map(reservation) ?? .null,
                "text": .string(reminder.message),
            ]).webhookBody
        }
    }

    /// The body for a `batchctl remind` digest.
    public static func digest(_ digest: ReminderDigest, format: WebhookSettings.Format) -> [UInt8] {
        switch format {
        case .slack:
            return JSONValue.object(["text": .string(digest.text)]).webhookBody
        case .json:
            let rows: [JSONValue] = digest.rows.map { r in
                .object([
                    "queue": .string(r.queue),
                    "holder": r.holder.map(JSONValue.string) ?? .null,
                    "claimedAt": r.claimedAt.map { .string($0.rfc3339) } ?? .null,
                    "expiresAt": r.expiresAt.map { .string($0.rfc3339) } ?? .null,
                    "idleSince": r.idleSince.map { .string($0.rfc3339) } ?? .null,
                    "phase": .string(r.phase),
                    "replicas": r.replicas.map { .int(Int64($0)) } ?? .null,
                    "desiredReplicas": r.desiredReplicas.map { .int(Int64($0)) } ?? .null,
                    "depth": r.depth.map { .int(Int64($0)) } ?? .null,
                    "nextCommand": r.nextCommand.map(JSONValue.string) ?? .null,
                ])
            }
            return JSONValue.object([
                "type": .string("digest"),
                "generatedAt": .string(digest.now.rfc3339),
                "namespace": .string(digest.namespace),
                "queues": .array(rows),
                "text": .string(digest.text),
            ]).webhookBody
        }
    }

    static func reservation(_ r: Reservation) -> JSONValue {
        .object([
            "holder": .string(r.holder),
            "reason": r.reason.map(JSONValue.string) ?? .null,
            "claimedAt": .string(r.claimedAt.rfc3339),
            "expiresAt": .string(r.expiresAt.rfc3339),
            "replicas": .int(Int64(r.replicas)),
            "approvedBand": r.approvedBand.map(JSONValue.string) ?? .null,
        ])
    }
}

extension JSONValue {
    /// A webhook body: compact JSON, keys sorted, `<`, `>` and `&` left as they are (chat services read them).
    var webhookBody: [UInt8] { Array(compact(escapingHTML: false).utf8) }
}
