import BatchCore
import MemberwiseInit

/// Where kombu's Redis transport (Celery 5.7) keeps a queue's messages and bookkeeping, derived from
/// the Celery app's `broker_transport_options` (see `CeleryLayout`). Pure: no I/O.
///
/// The rules (shared/reference/celery-redis.md): a queue `q` is one Redis list per priority step,
/// `P+q` for step 0 and `P+q+SEP+step` otherwise; the global hash `P+"unacked"` holds every delivered but
/// unacknowledged message as `[message, exchange, routing_key]`; the set `P+"_kombu.binding."+exchange`
/// holds the exchange's bindings as `routing_key SEP pattern SEP queue`.
@MemberwiseInit(.public)
public struct CeleryKeys: Sendable, Equatable {
    /// The Celery app's `broker_transport_options` these keys follow.
    public let layout: CeleryLayout

    /// The list keys of `queue`, one per priority step, in step order. Duplicate steps give one key.
    public func queueKeys(_ queue: String) -> [String] {
        var seen = Set<String>()
        return layout.prioritySteps.compactMap { step in
            let key = step == 0 ? layout.globalKeyPrefix + queue : layout.globalKeyPrefix + queue + layout.separator + String(step)
            return seen.insert(key).inserted ? key : nil
        }
    }

    /// The list key a message sent to `queue` with `priority` lands in, as kombu's `_q_for_pri`
    /// computes it: the priority is clamped to 0...9, then the largest step not above it is used (the
    /// last step when none is, as Python's `bisect` does).
    public func key(for queue: String, priority: Int?) -> String {
        let steps = layout.prioritySteps.sorted()
        let p = min(max(priority ?? 0, 0), 9)
        let step = steps.last(where: { $0 <= p }) ?? steps.last ?? 0
        return step == 0 ? layout.globalKeyPrefix + queue : layout.globalKeyPrefix + queue + layout.separator + String(step)
    }

    /// The hash of delivered, unacknowledged messages (all queues share it).
    public var unackedKey: String { layout.globalKeyPrefix + "unacked" }

    /// The sorted set kombu scores every `unacked` tag in with its delivery time (Unix seconds).
    public var unackedIndexKey: String { layout.globalKeyPrefix + "unacked_index" }

    /// The set of bindings of `exchange`.
    public func bindingKey(exchange: String) -> String { layout.globalKeyPrefix + "_kombu.binding." + exchange }

    /// The pub/sub channel Celery workers publish `worker-<event>` events on, for the Redis database `db`
    /// (kombu's fanout prefix and patterns, both on by default): `P + "/" + db + ".celeryev/worker." + event`,
    /// e.g. `/0.celeryev/worker.heartbeat`. Measured with a real Celery 5.7 worker.
    public func workerEventChannel(database: Int, event: String) -> String {
        layout.globalKeyPrefix + "/\(database).celeryev/worker." + event
    }

    /// Parses one member of a binding set, `routing_key SEP pattern SEP queue`. Returns nil when the
    /// member does not split into exactly three parts (kombu would refuse it too).
    public func parseBinding(_ member: String) -> Binding? {
        let parts = splitBytes(Array(member.utf8), on: Array(layout.separator.utf8))
        guard parts.count == 3 else { return nil }
        return Binding(routingKey: String(decoding: parts[0], as: UTF8.self), pattern: String(decoding: parts[1], as: UTF8.self),
                       queue: String(decoding: parts[2], as: UTF8.self))
    }

    /// The queues an unacked entry belongs to, following kombu's `_lookup`: an empty exchange means the
    /// routing key is the queue; otherwise every binding of the exchange whose key equals the routing key
    /// (direct: empty pattern) or whose regex pattern matches it (topic).
    /// - Parameter bindings: the parsed members of the exchange's binding set (ignored when `exchange` is empty).
    public static func route(exchange: String, routingKey: String, bindings: [Binding]) -> [String] {
        if exchange.isEmpty { return [routingKey] }
        var queues: [String] = []
        for b in bindings where b.matches(routingKey) && !queues.contains(b.queue) {
            queues.append(b.queue)
        }
        return queues
    }
}

/// One binding of a kombu exchange to a queue.
public struct Binding: Sendable, Equatable {
    /// The binding key (for direct exchanges, compared with the routing key).
    public var routingKey: String
    /// Empty for direct exchanges; a Python regex (kombu's translation of `*`/`#`) for topic exchanges.
    public var pattern: String
    /// The queue messages matching this binding go to.
    public var queue: String

    /// Whether a message with `routingKey` goes to this binding's queue. Python's `re.match` anchors at
    /// the start, so a prefix match is used; an invalid pattern matches nothing.
    public func matches(_ key: String) -> Bool {
        if pattern.isEmpty { return key == routingKey }
        do {
            return try Regex(pattern).prefixMatch(in: key) != nil
        } catch {
            return false   // an unparsable pattern routes nowhere, as in kombu
        }
    }
}

/// Renders a Redis key for messages: control bytes such as kombu's separator 0x06 0x16 become `\x06\x16`.
public func printableKey(_ key: String) -> String {
    var out = ""
    for scalar in key.unicodeScalars {
        if scalar.value < 0x20 || scalar.value == 0x7F {
            let hex = String(scalar.value, radix: 16)
            out += "\\x" + (hex.count < 2 ? "0" : "") + hex
        } else {
            out.unicodeScalars.append(scalar)
        }
    }
    return out
}

/// Splits `bytes` on every occurrence of `separator` (byte-exact, keeping empty parts).
func splitBytes(_ bytes: [UInt8], on separator: [UInt8]) -> [ArraySlice<UInt8>] {
    guard !separator.isEmpty else { return [bytes[...]] }
    var parts: [ArraySlice<UInt8>] = []
    var start = 0
    var i = 0
    while i + separator.count <= bytes.count {
        if bytes[i..<(i + separator.count)].elementsEqual(separator) {
            parts.append(bytes[start..<i])
            i += separator.count
            start = i
        } else {
            i += 1
        }
    }
    parts.append(bytes[start...])
    return parts
}
