import BatchCore
import FoundationEssentials
import Synchronization

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
    /// Index entries not read yet while the first passes after a start are still reading (in-flight
    /// counts are then unknown); nil once every entry has been read.
    public var pending: Int?
}

/// One observation of the configured queues.
public struct QueueProbeResult: Sendable, Codable, Equatable {
    /// One entry per configured queue, in configuration order.
    public var queues: [QueueReading]
    /// Redis memory use; nil if `INFO memory` lacked the fields.
    public var memory: RedisMemoryReading?
    /// The `unacked` hash as a whole.
    public var unacked: UnackedSummary
    /// Round trips this observation took: 1 when no task was delivered or acknowledged since the last
    /// one, 2 or 3 when some were (their routing is read once), more on the first passes over a large `unacked`.
    public var roundTrips: Int
    /// When the reply arrived (by the probe's `WallClock`).
    public var observedAt: Date
}

/// Reads, for every configured queue, the depth and the in-flight count, plus Redis memory. Read only:
/// LLEN, HLEN, ZCARD, ZCOUNT, ZRANGEBYSCORE, HMGET, SMEMBERS and INFO, never a write.
///
/// Depth is Σ LLEN of the queue's lists. In-flight entries are counted from kombu's `unacked_index`
/// (delivery tag → delivery time) with an `UnackedTracker` kept between passes, so a pass costs what
/// changed, not what is in flight: one pipelined MULTI/EXEC block (LLENs, the index entries delivered
/// since the last pass, one ZCOUNT per chunk of about `pageSize` known entries, a window of a quarter page
/// of one chunk compared tag by tag (rotating over every chunk), bindings, INFO) when
/// nothing was delivered or acknowledged; when something was, one or two more round trips read the new
/// tags' hash values (HMGET, to learn their queue, once per tag) and re-read only the changed chunks.
/// No reply holds more than `pageSize` hash values, whatever `unacked` holds.
///
/// After a start (or a reset) the first pass reads the index in pages of `pageSize`, at most `passBudget`
/// entries per pass. Until every entry has been read the counts are not exact: each queue's `inFlight` is
/// nil and its `error` says how far the read has got, so the controller holds (unknown means hold). The
/// next passes go on where the last stopped.
///
/// Observations of one probe should not overlap: an overlapping one starts from nothing.
public final class QueueProbe: Sendable {
    /// The connection the probe reads through (its `stats` count the round trips).
    public let client: RedisClient
    /// The key layout, from the configured `CeleryLayout`.
    public let keys: CeleryKeys
    /// The Celery queues observed, in order.
    public let queues: [String]
    /// Hash values per HMGET, index entries per ZRANGEBYSCORE page, and the size of a chunk.
    public let pageSize: Int
    /// Index entries read per pass at most (bounds the first pass after a start).
    public let passBudget: Int
    /// Stamps `observedAt`.
    let clock: WallClock

    private struct State {
        var tracker: UnackedTracker
        var bindings: [String: [Binding]] = [:]
        /// `exchange NUL routing_key` → route id (of `tracker`), cleared when a binding set changes.
        var routeCache: [String: UInt32] = [:]
        /// The chunk, and the window of its members, that the next pass compares tag by tag (rotating:
        /// every window of every chunk in turn).
        var verifyNext = 0
        var verifyOffset = 0

        /// Forgets every tag (and the route ids, which belong to the tracker); the next passes read the
        /// index from the start.
        mutating func reset() {
            tracker = UnackedTracker(queueCount: tracker.queueCount, maxChunk: tracker.maxChunk)
            routeCache = [:]
        }
    }

    private let state: Mutex<State?>

    public init(client: RedisClient, layout: CeleryLayout, queues: [String], pageSize: Int = 1000, passBudget: Int = 200_000,
                clock: @escaping WallClock = { .now }) {
        self.client = client
        self.clock = clock
        keys = CeleryKeys(layout: layout)
        self.queues = queues
        self.pageSize = max(pageSize, 2)
        self.passBudget = max(passBudget, self.pageSize)
        state = Mutex(State(tracker: UnackedTracker(queueCount: queues.count, maxChunk: max(pageSize, 2))))
    }

    /// Observes the queues.
    /// - Throws: `RedisError` when Redis cannot be reached or the whole block fails. A key of the wrong
    ///   type does not throw: the affected queue carries an `error` and the others are reported.
    public func observe() async throws(RedisError) -> QueueProbeResult {
        let startTrips = client.stats.roundTrips
        var s = state.withLock { $0.take() } ?? State(tracker: UnackedTracker(queueCount: queues.count, maxChunk: pageSize))
        defer { state.withLock { [s] in $0 = s } }

        let exchanges = s.bindings.keys.sorted()
        let queueKeys = queues.map { keys.queueKeys($0) }
        let chunkRanges = s.tracker.chunks.indices.map { (id: s.tracker.chunks[$0].id, range: s.tracker.range(ofChunk: $0)) }
        let index = b(keys.unackedIndexKey)

        var commands: [[[UInt8]]] = [[b("MULTI")]]
        for list in queueKeys { for key in list { commands.append([b("LLEN"), b(key)]) } }
        let unackedAt = commands.count - 1
        commands.append([b("HLEN"), b(keys.unackedKey)])
        commands.append([b("ZCARD"), index])
        let firstRequest = nextPage(s.tracker)
        commands.append(firstRequest.command)
        for c in chunkRanges { commands.append([b("ZCOUNT"), index, b(c.range.0), b(c.range.1)]) }
        // One window of one chunk a pass, in turn, is compared tag by tag: a count can hide an ack and a
        // delivery scored in the past (a worker clock behind) in the same range; this finds it within one
        // round of windows, and the chunk is then re-read whole. A window is a quarter of a page, so a
        // steady pass reads at most that many index entries.
        let verify = chunkRanges.isEmpty ? nil : chunkRanges[s.verifyNext % chunkRanges.count]
        let verifyOffset = s.verifyOffset
        if let verify {
            commands.append(windowCommand(verify.range, offset: verifyOffset))
            let inChunk = s.tracker.chunks.first { $0.id == verify.id }?.count ?? 0
            if verifyOffset + verifyWindow < inChunk {
                s.verifyOffset += verifyWindow
            } else {
                s.verifyOffset = 0
                s.verifyNext = (s.verifyNext + 1) % chunkRanges.count
            }
        } else {
            s.verifyNext = 0
            s.verifyOffset = 0
        }
        for exchange in exchanges { commands.append([b("SMEMBERS"), b(keys.bindingKey(exchange: exchange))]) }
        commands.append([b("INFO"), b("memory")])
        commands.append([b("EXEC")])

        let replies = try await client.pipeline(commands)
        let results = try execResults(replies, expected: commands.count - 2)

        // Depth per queue.
        var states: [QueueReading] = []
        var at = 0
        for (queue, list) in zip(queues, queueKeys) {
            var depth = 0
            var problems: [String] = []
            for key in list {
                let reply = results[at]
                at += 1
                if let n = reply.integer { depth = Self.saturatingSum(depth, Int(clamping: n)) } else { problems.append(Self.keyProblem(key: key, queue: queue, reply: reply)) }
            }
            states.append(QueueReading(name: queue, depth: problems.isEmpty ? depth : nil, inFlight: nil,
                                     error: problems.isEmpty ? nil : problems.joined(separator: "; ")))
        }
        precondition(at == unackedAt)
        let verifyAt = unackedAt + 3 + chunkRanges.count
        let bindingsAt = verifyAt + (verify == nil ? 0 : 1)
        let memory: RedisMemoryReading?
        if case let .string(info) = results[bindingsAt + exchanges.count] { memory = Self.parseMemory(info) } else { memory = nil }

        // Bindings re-read in the block; a changed set forgets the routes learnt from it.
        for (offset, exchange) in exchanges.enumerated() {
            let fresh = (results[bindingsAt + offset].array ?? []).compactMap { $0.text.flatMap(keys.parseBinding) }
            if s.bindings[exchange] != fresh { s.routeCache = [:] }
            s.bindings[exchange] = fresh
        }

        var summary = UnackedSummary(entries: 0, otherQueues: 0, unreadable: 0, error: nil)
        let hashLength = results[unackedAt].integer
        let indexLength = results[unackedAt + 1].integer
        let firstPage: [(UnackedTracker.Tag, [UInt8], Double)]
        if hashLength == nil {
            summary.error = "key \"\(printableKey(keys.unackedKey))\" could not be read as a hash (\(results[unackedAt].errorMessage ?? "\(results[unackedAt])")); kombu keeps delivered messages in a hash there, so something else wrote it; in-flight counts are unknown"
        } else if indexLength == nil {
            summary.error = "key \"\(printableKey(keys.unackedIndexKey))\" could not be read as a sorted set (\(results[unackedAt + 1].errorMessage ?? "\(results[unackedAt + 1])")); kombu keeps delivery times there, so something else wrote it; in-flight counts are unknown"
        }
        if summary.error != nil {
            s.reset()
            return QueueProbeResult(queues: states, memory: memory, unacked: summary,
                                    roundTrips: client.stats.roundTrips - startTrips, observedAt: clock().date)
        }
        let oldWatermark = s.tracker.watermark
        var rawCount = 0
        var moved: [UnackedTracker.Tag: UInt32] = [:]
        firstPage = try changes(in: results[unackedAt + 2], tracker: &s.tracker, moved: &moved, rawCount: &rawCount)
        // Chunks whose count changed are re-read; the new page's unknown tags are looked up, together.
        // The last chunk's range ends at the watermark, which the page includes: entries scored exactly
        // there (new, or moved there) are in both.
        let atWatermark = firstPage.filter { $0.2 == oldWatermark }.count
        var changed: [(id: UInt32, range: (String, String))] = []
        let counts = Dictionary(uniqueKeysWithValues: s.tracker.chunks.map { ($0.id, $0.count) })
        for (offset, c) in chunkRanges.enumerated() {
            let expected = (counts[c.id] ?? -1) + (offset == chunkRanges.count - 1 ? atWatermark : 0)
            if results[unackedAt + 3 + offset].integer != Int64(expected) { changed.append(c) }
        }
        if let verify, !changed.contains(where: { $0.id == verify.id }) {
            let members = try indexPage(results[verifyAt])
            let count = s.tracker.chunks.first { $0.id == verify.id }?.count ?? -1
            let tracker = s.tracker
            let same = members.count == min(verifyWindow, max(count - verifyOffset, 0)) && members.allSatisfy { member in
                guard let t = tracker.entries[member.0] else { return false }
                return t.chunk == verify.id && t.score == member.2
            }
            // A member not tracked there: the chunk is re-read whole with the changed ones.
            if !same { changed.append(verify) }
        }
        var budget = passBudget
        var page = firstPage
        var requested = firstRequest.requested
        var complete = true
        while true {
            budget -= rawCount
            let isNew = page.map { moved[$0.0] == nil }
            let unknown = zip(page, isNew).filter(\.1).map(\.0.1)
            var followUp: [[[UInt8]]] = []
            if !unknown.isEmpty { followUp.append([b("HMGET"), b(keys.unackedKey)] + unknown) }
            for c in changed { followUp.append(rangeCommand(c.range)) }
            var values: [RedisValue] = []
            var rereadReplies: [RedisValue] = []
            if !followUp.isEmpty {
                let r = try await client.pipeline(followUp)
                guard r.count == followUp.count else { throw protocolError("\(r.count) replies to \(followUp.count) commands") }
                var rest = r[...]
                if !unknown.isEmpty, let hmget = rest.popFirst() {
                    guard let items = hmget.array, items.count == unknown.count else { throw replyError("HMGET", hmget) }
                    values = items
                }
                rereadReplies = Array(rest)
            }
            // Re-read chunks first (their ranges end at the old watermark), then the page above it.
            if !changed.isEmpty {
                guard let lookups = try applyRereads(&s, changed: changed, replies: rereadReplies) else {
                    complete = false
                    break
                }
                try await insertLooked(&s, lookups)
                changed = []
            }
            let found = try await routes(&s, values: values)
            var k = 0
            for ((tag, _, score), new) in zip(page, isNew) {
                if !new, let route = moved.removeValue(forKey: tag) {
                    s.tracker.insert(tag, score: score, route: route)
                } else if k < found.count {
                    s.tracker.insert(tag, score: score, route: found[k])
                    k += 1
                }
            }
            guard rawCount >= requested else { break }
            guard budget > 0 else {
                complete = false
                break
            }
            // More above: the next page starts at the (new) watermark.
            let request = nextPage(s.tracker)
            requested = request.requested
            let next = try await client.pipeline([request.command])
            guard let reply = next.first else { throw protocolError("no reply to ZRANGEBYSCORE") }
            page = try changes(in: reply, tracker: &s.tracker, moved: &moved, rawCount: &rawCount)
            if rawCount == 0 { break }
        }
        return try finish(&s, states: states, memory: memory, summary: summary, complete: complete, total: indexLength, startTrips: startTrips)
    }

    /// Counts per queue from the tracker (or the "not complete yet" note), and the result.
    private func finish(_ s: inout State, states: [QueueReading], memory: RedisMemoryReading?, summary: UnackedSummary, complete: Bool,
                        total indexLength: Int64?, startTrips: Int) throws(RedisError) -> QueueProbeResult {
        var states = states
        var summary = summary
        s.tracker.compact()
        let tracked = s.tracker.count
        let total = Int(clamping: indexLength ?? 0)
        summary.entries = complete ? tracked : max(total, tracked)
        summary.otherQueues = s.tracker.routeCounts[Int(UnackedTracker.otherRoute)]
        summary.unreadable = s.tracker.routeCounts[Int(UnackedTracker.unreadableRoute)]
        if complete {
            let counts = s.tracker.queueCounts
            for i in states.indices {
                states[i].inFlight = counts[i]
                states[i].deliveries = s.tracker.deliveries(queue: i)
            }
        } else {
            summary.pending = max(total - tracked, 0)
            let note = "in-flight count not complete yet: \(tracked) of \(total) entries of \"\(printableKey(keys.unackedIndexKey))\" read (at most \(passBudget) a pass, after a start); the next passes read the rest"
            for i in states.indices { states[i].error = states[i].error.map { $0 + "; " + note } ?? note }
        }
        return QueueProbeResult(queues: states, memory: memory, unacked: summary,
                                roundTrips: client.stats.roundTrips - startTrips, observedAt: clock().date)
    }

    /// Reads the hash values of `lookups` (one HMGET) and tracks them with their routes.
    private func insertLooked(_ s: inout State, _ lookups: [(UnackedTracker.Tag, [UInt8], Double)]) async throws(RedisError) {
        guard !lookups.isEmpty else { return }
        let r = try await client.pipeline([[b("HMGET"), b(keys.unackedKey)] + lookups.map(\.1)])
        guard let items = r.first?.array, items.count == lookups.count else { throw replyError("HMGET", r.first ?? .null) }
        let found = try await routes(&s, values: items)
        for ((tag, _, score), route) in zip(lookups, found) { s.tracker.insert(tag, score: score, route: route) }
    }

    /// `ZRANGEBYSCORE index min max WITHSCORES LIMIT 0 rereadLimit`.
    private func rangeCommand(_ range: (String, String)) -> [[UInt8]] {
        windowCommand(range, offset: 0, count: Self.rereadLimit(pageSize))
    }

    /// `ZRANGEBYSCORE index min max WITHSCORES LIMIT offset count` (count: `verifyWindow` by default).
    private func windowCommand(_ range: (String, String), offset: Int, count: Int? = nil) -> [[UInt8]] {
        [b("ZRANGEBYSCORE"), b(keys.unackedIndexKey), b(range.0), b(range.1), b("WITHSCORES"), b("LIMIT"), b(String(offset)),
         b(String(count ?? verifyWindow))]
    }

    /// Index entries a steady pass compares tag by tag (a quarter of a page).
    private var verifyWindow: Int { max(pageSize / 4, 1) }

    static func saturatingSum(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b > 0 ? .max : .min) : sum
    }

    /// Exchanges whose bindings the probe keeps.
    static let maxExchanges = 256

    /// At most this many index entries come back when a chunk is re-read.
    static func rereadLimit(_ pageSize: Int) -> Int { 4 * pageSize }

    /// The next page of the index from the watermark up: `ZRANGEBYSCORE index [watermark +inf WITHSCORES
    /// LIMIT 0 pageSize+ties`, which returns the entries already tracked at the watermark again (a new
    /// entry can share that score and sort before them). A group of more than `pageSize` equal scores
    /// is skipped by offset instead (the rotating chunk comparison covers what that misses).
    private func nextPage(_ t: UnackedTracker) -> (command: [[UInt8]], requested: Int) {
        let from = UnackedTracker.scoreArgument(t.watermark, exclusive: false)
        let ties = t.tiesAtWatermark
        let (offset, count) = ties <= pageSize ? (0, pageSize + ties) : (ties, pageSize)
        return ([b("ZRANGEBYSCORE"), b(keys.unackedIndexKey), b(from), b("+inf"), b("WITHSCORES"), b("LIMIT"), b(String(offset)), b(String(count))],
                count)
    }

    /// The entries of a page that are not tracked with that score: new tags, and known tags delivered
    /// again (removed from their old range here, their route kept in `moved`).
    private func changes(in reply: RedisValue, tracker: inout UnackedTracker, moved: inout [UnackedTracker.Tag: UInt32],
                         rawCount: inout Int) throws(RedisError) -> [(UnackedTracker.Tag, [UInt8], Double)] {
        let page = try indexPage(reply)
        rawCount = page.count
        var out: [(UnackedTracker.Tag, [UInt8], Double)] = []
        for entry in page {
            if let t = tracker.entries[entry.0] {
                if t.score == entry.2 { continue }
                moved[entry.0] = t.route
                tracker.remove(entry.0)
            }
            out.append(entry)
        }
        return out
    }

    /// Tag, raw tag and score of each member of a `WITHSCORES` reply, in order.
    private func indexPage(_ reply: RedisValue) throws(RedisError) -> [(UnackedTracker.Tag, [UInt8], Double)] {
        guard let flat = reply.array, flat.count % 2 == 0 else { throw replyError("ZRANGEBYSCORE", reply) }
        var out: [(UnackedTracker.Tag, [UInt8], Double)] = []
        out.reserveCapacity(flat.count / 2)
        var i = 0
        while i < flat.count {
            guard case let .string(raw) = flat[i], let text = flat[i + 1].text, let score = Double(text), score.isFinite else {
                throw replyError("ZRANGEBYSCORE", flat[i + 1])
            }
            out.append((UnackedTracker.Tag(raw), raw, score))
            i += 2
        }
        return out
    }

    /// Compares re-read chunk ranges with the tracker: tags gone are removed, tags known elsewhere move,
    /// unknown tags are returned for a lookup. Nil when a range held more than `rereadLimit` (the tracker
    /// is then reset and the next passes read the index again from the start).
    private func applyRereads(_ s: inout State, changed: [(id: UInt32, range: (String, String))],
                              replies: [RedisValue]) throws(RedisError) -> [(UnackedTracker.Tag, [UInt8], Double)]? {
        let members = s.tracker.tags(inChunks: Set(changed.map(\.id)))
        var lookups: [(UnackedTracker.Tag, [UInt8], Double)] = []
        for (c, reply) in zip(changed, replies) {
            let now = try indexPage(reply)
            guard now.count < Self.rereadLimit(pageSize) else {
                s.reset()
                return nil
            }
            let present = Set(now.map(\.0))
            for tag in members[c.id] ?? [] where !present.contains(tag) { s.tracker.remove(tag) }
            for (tag, raw, score) in now {
                if let t = s.tracker.entries[tag] {
                    if t.chunk != c.id || t.score != score { s.tracker.insert(tag, score: score, route: t.route) }
                } else {
                    lookups.append((tag, raw, score))
                }
            }
        }
        return lookups
    }

    /// The route of each hash value (nil or unreadable values route to `unreadableRoute`), reading the
    /// bindings of exchanges not seen before in one more round trip.
    private func routes(_ s: inout State, values: [RedisValue]) async throws(RedisError) -> [UInt32] {
        let parsed: [UnackedEntry?] = values.map { v in
            if case let .string(bytes) = v { return UnackedEntry.parse(bytes) }
            return nil
        }
        let known = s.bindings
        // Exchange names come from Redis data: at most `maxExchanges` binding sets are kept; entries of
        // exchanges past that count for no configured queue.
        let unknown = Array(Set(parsed.compactMap { $0?.exchange }.filter { !$0.isEmpty && known[$0] == nil }).sorted()
            .prefix(max(0, Self.maxExchanges - known.count)))
        if !unknown.isEmpty {
            let replies = try await client.pipeline(unknown.map { [b("SMEMBERS"), b(keys.bindingKey(exchange: $0))] })
            for (exchange, reply) in zip(unknown, replies) {
                s.bindings[exchange] = (reply.array ?? []).compactMap { $0.text.flatMap(keys.parseBinding) }
            }
        }
        let positions = Dictionary(queues.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { a, _ in a })
        return parsed.map { entry in
            guard let entry else { return UnackedTracker.unreadableRoute }
            let key = entry.exchange + "\u{0}" + entry.routingKey
            if let id = s.routeCache[key] { return id }
            let targets = CeleryKeys.route(exchange: entry.exchange, routingKey: entry.routingKey, bindings: s.bindings[entry.exchange] ?? [])
            let id = s.tracker.routeID(Array(Set(targets.compactMap { positions[$0] })).sorted())
            if s.routeCache.count >= 4096 { s.routeCache = [:] }
            s.routeCache[key] = id
            return id
        }
    }

    private func replyError(_ command: String, _ reply: RedisValue) -> RedisError {
        if let message = reply.errorMessage { return RedisError(.reply, server: client.server, detail: "\(command): \(message)") }
        return protocolError("\(command) returned \(reply)")
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

    /// `used_memory` and `maxmemory` from the reply to `INFO memory` (`name:value` lines); a number too
    /// large for Int64 saturates (the reply is the server's to write).
    static func parseMemory(_ info: [UInt8]) -> RedisMemoryReading? {
        func value(_ name: String) -> Int64? {
            let needle = Array(name.utf8) + [UInt8(ascii: ":")]
            var lineStart = 0
            while lineStart < info.count {
                var end = lineStart
                while end < info.count && info[end] != 0x0A && info[end] != 0x0D { end += 1 }
                if end - lineStart > needle.count && info[lineStart..<(lineStart + needle.count)].elementsEqual(needle) {
                    var n: Int64 = 0
                    for c in info[(lineStart + needle.count)..<end] {
                        guard c >= 0x30 && c <= 0x39 else { return nil }
                        let (times10, overflowA) = n.multipliedReportingOverflow(by: 10)
                        let (next, overflowB) = times10.addingReportingOverflow(Int64(c - 0x30))
                        n = overflowA || overflowB ? .max : next
                    }
                    return n
                }
                lineStart = end + 1
            }
            return nil
        }
        guard let used = value("used_memory"), let max = value("maxmemory") else { return nil }
        return RedisMemoryReading(used: used, max: max)
    }
}

/// The UTF-8 bytes of `s`, for command arguments.
@inline(__always) func b(_ s: String) -> [UInt8] { Array(s.utf8) }
