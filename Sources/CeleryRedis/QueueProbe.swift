import BatchCore
import FoundationEssentials
import Synchronization

/// What Redis says about one Celery queue.
public struct QueueState: Sendable, Codable, Equatable {
    /// The Celery queue name.
    public var name: String
    /// Σ LLEN over the queue's priority lists; nil when it could not be read (see `error`).
    public var depth: Int?
    /// Entries of the `unacked` hash routed to this queue: prefetched, ETA/countdown, executing with
    /// `acks_late`, and orphans of dead workers. Nil when `unacked` could not be read.
    public var inFlight: Int?
    /// Why `depth` or `inFlight` is missing, naming the key and the cause.
    public var error: String?

    public init(name: String, depth: Int?, inFlight: Int?, error: String? = nil) {
        self.name = name
        self.depth = depth
        self.inFlight = inFlight
        self.error = error
    }
}

/// Redis memory use from `INFO memory`.
public struct RedisMemory: Sendable, Codable, Equatable {
    /// `used_memory`, bytes.
    public var usedMemory: Int
    /// `maxmemory`, bytes; 0 means no limit.
    public var maxMemory: Int

    public init(usedMemory: Int, maxMemory: Int) {
        self.usedMemory = usedMemory
        self.maxMemory = maxMemory
    }
}

/// What the `unacked` hash held, beyond the per-queue counts.
public struct UnackedSummary: Sendable, Codable, Equatable {
    /// All entries, whatever their queue.
    public var entries: Int
    /// Entries routed to no configured queue (other queues, or an exchange without a matching binding).
    public var otherQueues: Int
    /// Entries that are not kombu's `[message, exchange, routing_key]`.
    public var unreadable: Int
    /// Why the hash could not be read (for example, it is not a hash).
    public var error: String?
}

/// One observation of the configured queues.
public struct QueueProbeResult: Sendable, Codable, Equatable {
    /// One entry per configured queue, in configuration order.
    public var queues: [QueueState]
    /// Redis memory use; nil if `INFO memory` lacked the fields.
    public var memory: RedisMemory?
    /// The `unacked` hash as a whole.
    public var unacked: UnackedSummary
    /// Round trips this observation took (1 unless `unacked` is large or a new exchange appeared).
    public var roundTrips: Int
    /// When the reply arrived.
    public var observedAt: Date
}

/// Reads, for every configured queue, the depth and the in-flight count, plus Redis memory, in one
/// pipelined round trip (a MULTI/EXEC block, so the counts are one consistent snapshot). Read only:
/// it sends LLEN, HVALS or HSCAN, SMEMBERS and INFO, never a write.
///
/// `unacked` is read inside the block with `HVALS` while the previous observation found at most
/// `unackedBatch` entries (values only: half the reply of HSCAN), else with `HSCAN 0 COUNT unackedBatch`,
/// continued in further round trips until the cursor returns to 0. (A hash that grew from small to huge
/// between two probes is read whole once.) Bindings of exchanges seen in `unacked` are
/// remembered and re-read inside the block on later probes, so a non-empty exchange costs one extra
/// round trip only the first time.
public final class QueueProbe: Sendable {
    /// The connection the probe reads through (its `stats` count the round trips).
    public let client: RedisClient
    /// The key layout, from the configured `CeleryLayout`.
    public let keys: CeleryKeys
    /// The Celery queues observed, in order.
    public let queues: [String]
    /// COUNT for HSCAN of `unacked`.
    public let unackedBatch: Int
    private let bindingCache = Mutex<[String: [Binding]]>([:])
    /// Entries in `unacked` at the last observation: decides between HVALS and HSCAN.
    private let lastUnackedCount = Atomic<Int>(0)

    public init(client: RedisClient, layout: CeleryLayout, queues: [String], unackedBatch: Int = 1000) {
        self.client = client
        keys = CeleryKeys(layout: layout)
        self.queues = queues
        self.unackedBatch = unackedBatch
    }

    /// Observes the queues.
    /// - Throws: `RedisError` when Redis cannot be reached or the whole block fails. A key of the wrong
    ///   type does not throw: the affected queue carries an `error` and the others are reported.
    public func observe() async throws(RedisError) -> QueueProbeResult {
        let startTrips = client.stats.roundTrips
        let exchanges = bindingCache.withLock { $0.keys.sorted() }
        let queueKeys = queues.map { keys.queueKeys($0) }

        var commands: [[[UInt8]]] = [[b("MULTI")]]
        for list in queueKeys { for key in list { commands.append([b("LLEN"), b(key)]) } }
        let scanIndex = commands.count - 1
        let readWhole = lastUnackedCount.load(ordering: .relaxed) <= unackedBatch
        if readWhole {
            commands.append([b("HVALS"), b(keys.unackedKey)])
        } else {
            commands.append([b("HSCAN"), b(keys.unackedKey), b("0"), b("COUNT"), b(String(unackedBatch))])
        }
        for exchange in exchanges { commands.append([b("SMEMBERS"), b(keys.bindingKey(exchange: exchange))]) }
        commands.append([b("INFO"), b("memory")])
        commands.append([b("EXEC")])

        let replies = try await client.pipeline(commands)
        let results = try execResults(replies, expected: commands.count - 2)

        // Depth per queue.
        var states: [QueueState] = []
        var index = 0
        for (queue, list) in zip(queues, queueKeys) {
            var depth = 0
            var problems: [String] = []
            for key in list {
                let reply = results[index]
                index += 1
                if let n = reply.integer { depth += Int(n) } else { problems.append(Self.keyProblem(key: key, queue: queue, reply: reply)) }
            }
            states.append(QueueState(name: queue, depth: problems.isEmpty ? depth : nil, inFlight: nil,
                                     error: problems.isEmpty ? nil : problems.joined(separator: "; ")))
        }
        precondition(index == scanIndex)

        // unacked, continuing the scan past the first batch if needed.
        var summary = UnackedSummary(entries: 0, otherQueues: 0, unreadable: 0, error: nil)
        var values: [[UInt8]] = []
        switch readWhole ? try wholePage(results[scanIndex]) : try scanPage(results[scanIndex]) {
        case let .failure(message):
            summary.error = "key \"\(printableKey(keys.unackedKey))\" could not be read as a hash (\(message)); kombu keeps delivered messages in a hash there, so something else wrote it; in-flight counts are unknown"
        case let .success(page):
            values = page.values
            var cursor = page.cursor
            if cursor != "0" {
                var seen = Set(page.fields)
                var pageValues = zip(page.fields, page.values).map { $0 }
                while cursor != "0" {
                    let next = try await client.pipeline([[b("HSCAN"), b(keys.unackedKey), b(cursor), b("COUNT"), b(String(unackedBatch))]])
                    guard let reply = next.first else { throw protocolError("no reply to HSCAN") }
                    switch try scanPage(reply) {
                    case let .failure(message):
                        throw RedisError(.reply, server: client.server, detail: "HSCAN \(printableKey(keys.unackedKey)): \(message)")
                    case let .success(more):
                        for (f, v) in zip(more.fields, more.values) where seen.insert(f).inserted { pageValues.append((f, v)) }
                        cursor = more.cursor
                    }
                }
                values = pageValues.map { $0.1 }
            }
        }

        // Bindings re-read in the block.
        var bindings: [String: [Binding]] = [:]
        for (offset, exchange) in exchanges.enumerated() {
            let reply = results[scanIndex + 1 + offset]
            bindings[exchange] = (reply.array ?? []).compactMap { $0.text.flatMap(keys.parseBinding) }
        }
        let memory: RedisMemory?
        if case let .string(info) = results[scanIndex + 1 + exchanges.count] { memory = Self.parseMemory(info) } else { memory = nil }

        // Route unacked entries.
        var parsed: [UnackedEntry] = []
        parsed.reserveCapacity(values.count)
        for value in values {
            if let entry = UnackedEntry.parse(value) { parsed.append(entry) } else { summary.unreadable += 1 }
        }
        summary.entries = values.count
        lastUnackedCount.store(values.count, ordering: .relaxed)
        let unknown = Set(parsed.lazy.map(\.exchange).filter { !$0.isEmpty && bindings[$0] == nil }).sorted()
        if !unknown.isEmpty {
            let replies = try await client.pipeline(unknown.map { [b("SMEMBERS"), b(keys.bindingKey(exchange: $0))] })
            for (exchange, reply) in zip(unknown, replies) {
                bindings[exchange] = (reply.array ?? []).compactMap { $0.text.flatMap(keys.parseBinding) }
            }
        }
        bindingCache.withLock { cache in for (k, v) in bindings { cache[k] = v } }

        if summary.error == nil {
            var counts: [String: Int] = [:]
            for q in queues { counts[q] = 0 }
            for entry in parsed {
                let targets = CeleryKeys.route(exchange: entry.exchange, routingKey: entry.routingKey, bindings: bindings[entry.exchange] ?? [])
                var routed = false
                for t in targets where counts[t] != nil {
                    counts[t, default: 0] += 1
                    routed = true
                }
                if !routed { summary.otherQueues += 1 }
            }
            for i in states.indices { states[i].inFlight = counts[states[i].name] }
        }

        return QueueProbeResult(queues: states, memory: memory, unacked: summary,
                                roundTrips: client.stats.roundTrips - startTrips, observedAt: Date())
    }

    // MARK: - Replies

    /// The EXEC array, or the error that aborted the block.
    private func execResults(_ replies: [RedisValue], expected: Int) throws(RedisError) -> [RedisValue] {
        for reply in replies.dropLast() {
            if let message = reply.errorMessage {
                if message.hasPrefix("NOAUTH") || message.hasPrefix("WRONGPASS") {
                    throw RedisError(.authenticationFailed, server: client.server, detail: message)
                }
                throw RedisError(.reply, server: client.server, detail: message)
            }
        }
        guard let last = replies.last else { throw protocolError("no reply to EXEC") }
        if let message = last.errorMessage { throw RedisError(.reply, server: client.server, detail: message) }
        guard let results = last.array, results.count == expected else {
            throw protocolError("EXEC returned \(last) instead of \(expected) replies")
        }
        return results
    }

    private struct ScanPage {
        var cursor: String
        var fields: [[UInt8]]
        var values: [[UInt8]]
    }

    /// An HVALS reply as a finished page.
    private func wholePage(_ reply: RedisValue) throws(RedisError) -> Result<ScanPage, ScanFailure> {
        if let message = reply.errorMessage { return .failure(ScanFailure(message: message)) }
        guard let items = reply.array else { throw protocolError("HVALS returned \(reply)") }
        var values: [[UInt8]] = []
        values.reserveCapacity(items.count)
        for case let .string(v) in items { values.append(v) }
        return .success(ScanPage(cursor: "0", fields: [], values: values))
    }

    private func scanPage(_ reply: RedisValue) throws(RedisError) -> Result<ScanPage, ScanFailure> {
        if let message = reply.errorMessage { return .failure(ScanFailure(message: message)) }
        guard let parts = reply.array, parts.count == 2, let cursor = parts[0].text, let flat = parts[1].array, flat.count % 2 == 0 else {
            throw protocolError("HSCAN returned \(reply)")
        }
        var fields: [[UInt8]] = []
        var values: [[UInt8]] = []
        fields.reserveCapacity(flat.count / 2)
        values.reserveCapacity(flat.count / 2)
        var i = 0
        while i < flat.count {
            if case let .string(f) = flat[i], case let .string(v) = flat[i + 1] {
                fields.append(f)
                values.append(v)
            }
            i += 2
        }
        return .success(ScanPage(cursor: cursor, fields: fields, values: values))
    }

    private struct ScanFailure: Error {
        var message: String
    }

    private func protocolError(_ detail: String) -> RedisError {
        RedisError(.protocolViolation, server: client.server, detail: detail)
    }

    /// The message for a queue key that did not answer LLEN with a number.
    static func keyProblem(key: String, queue: String, reply: RedisValue) -> String {
        let shown = printableKey(key)
        if let message = reply.errorMessage, message.hasPrefix("WRONGTYPE") {
            return "key \"\(shown)\" is not a list (WRONGTYPE): Celery keeps queue \(queue) in lists, so something else wrote this key (e.g. `SET \(shown) x`); check it with `redis-cli TYPE '\(shown)'`; the depth of \(queue) is unknown until the key is removed or renamed"
        }
        return "LLEN \"\(shown)\" failed: \(reply.errorMessage ?? "unexpected reply \(reply)")"
    }

    /// `used_memory` and `maxmemory` from the reply to `INFO memory` (`name:value` lines).
    static func parseMemory(_ info: [UInt8]) -> RedisMemory? {
        func value(_ name: String) -> Int? {
            let needle = Array(name.utf8) + [UInt8(ascii: ":")]
            var lineStart = 0
            while lineStart < info.count {
                var end = lineStart
                while end < info.count && info[end] != 0x0A && info[end] != 0x0D { end += 1 }
                if end - lineStart > needle.count && info[lineStart..<(lineStart + needle.count)].elementsEqual(needle) {
                    var n = 0
                    for c in info[(lineStart + needle.count)..<end] {
                        guard c >= 0x30 && c <= 0x39 else { return nil }
                        n = n * 10 + Int(c - 0x30)
                    }
                    return n
                }
                lineStart = end + 1
            }
            return nil
        }
        guard let used = value("used_memory"), let max = value("maxmemory") else { return nil }
        return RedisMemory(usedMemory: used, maxMemory: max)
    }
}

/// The UTF-8 bytes of `s`, for command arguments.
@inline(__always) func b(_ s: String) -> [UInt8] { Array(s.utf8) }
