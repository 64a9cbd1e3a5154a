import BatchCore

/// What the probe knows of kombu's `unacked` hash, kept between passes so that a pass reads only what
/// changed. Pure: the probe (`QueueProbe`) does the reading and hands the replies in.
///
/// The key is `unacked_index`, the sorted set kombu keeps beside the hash (delivery tag → Unix time of
/// delivery; kombu writes and removes both in one MULTI). The tracker holds every delivery tag it has
/// read with its delivery time and its routing (which queues), looked up once from the hash value.
/// The tags are split, in score order, into *chunks* of at most `maxChunk`; chunk `i` covers the score
/// range `[lo(i), lo(i+1))`, the last one `[lo(last), watermark]`. Each pass reads
/// - the entries scored from the watermark up (new deliveries, and redeliveries of known tags), a bounded page;
/// - `ZCOUNT` of every chunk's range: a range whose count differs from the tracker's lost entries (acked,
///   restored) or gained some scored in the past (a worker with a slow clock), and only that range is
///   re-read (`ZRANGEBYSCORE`, bounded) and compared tag by tag.
/// Memory is about 60 bytes per tracked tag (delivery tags are UUIDs, kept as 16 bytes), whatever the
/// messages weigh; no reply holds more than one page of values.
struct UnackedTracker {
    /// A delivery tag: kombu's are canonical lowercase UUIDs, kept as 16 bytes; anything else as its bytes.
    enum Tag: Hashable {
        case uuid(UInt64, UInt64)
        case bytes([UInt8])

        init(_ raw: [UInt8]) {
            if let packed = Tag.packUUID(raw) { self = packed } else { self = .bytes(raw) }
        }

        static func packUUID(_ b: [UInt8]) -> Tag? {
            guard b.count == 36, b[8] == 0x2D, b[13] == 0x2D, b[18] == 0x2D, b[23] == 0x2D else { return nil }
            var hi: UInt64 = 0
            var lo: UInt64 = 0
            var n = 0
            for (i, c) in b.enumerated() where i != 8 && i != 13 && i != 18 && i != 23 {
                let d: UInt64
                switch c {
                case 0x30...0x39: d = UInt64(c - 0x30)
                case 0x61...0x66: d = UInt64(c - 0x61 + 10)
                default: return nil   // uppercase or not hex: kept as bytes, so it is sent back as it came
                }
                if n < 16 { hi = hi << 4 | d } else { lo = lo << 4 | d }
                n += 1
            }
            return .uuid(hi, lo)
        }
    }

    struct Tracked {
        var score: Double
        var chunk: UInt32
        var route: UInt32
    }

    struct Chunk {
        var id: UInt32
        var lo: Double
        var count: Int
    }

    /// Route ids 0 and 1 are fixed: an unreadable value, and a value routed to no configured queue.
    static let unreadableRoute: UInt32 = 0
    static let otherRoute: UInt32 = 1
    /// Distinct routings kept; past this, new combinations count as other queues (there are at most a
    /// few per configured queue in practice).
    static let maxRoutes = 4096

    let queueCount: Int
    let maxChunk: Int
    private(set) var entries: [Tag: Tracked] = [:]
    private(set) var chunks: [Chunk] = []
    /// The highest score read; entries above it are new. `-inf` until the first page is read.
    private(set) var watermark = -Double.infinity
    /// Entries read with score == watermark (the offset for the next page of ties).
    private(set) var tiesAtWatermark = 0
    private var nextChunkID: UInt32 = 0
    /// Route id → the configured queues (indices) it counts for.
    private(set) var routes: [[Int]] = [[], []]
    private var routeIDs: [[Int]: UInt32] = [:]
    /// Entries per route id.
    private(set) var routeCounts: [Int] = [0, 0]
    /// Per configured queue: delivery second → entries.
    private(set) var deliverySeconds: [[Int64: Int]]
    /// Per configured queue: `deliveries(queue:)` as last computed; nil once the queue's entries changed.
    private var deliveryCache: [[DeliveryGroup]?]

    init(queueCount: Int, maxChunk: Int = 1024) {
        self.queueCount = queueCount
        self.maxChunk = max(maxChunk, 2)
        deliverySeconds = Array(repeating: [:], count: queueCount)
        deliveryCache = Array(repeating: nil, count: queueCount)
    }

    var count: Int { entries.count }

    /// The route id of a set of configured-queue indices.
    mutating func routeID(_ targets: [Int]) -> UInt32 {
        if targets.isEmpty { return Self.otherRoute }
        if let id = routeIDs[targets] { return id }
        guard routes.count < Self.maxRoutes else { return Self.otherRoute }
        let id = UInt32(routes.count)
        routes.append(targets)
        routeCounts.append(0)
        routeIDs[targets] = id
        return id
    }

    // MARK: - Ranges

    /// Redis score-range arguments `(min, max)` of chunk `i` for ZCOUNT / ZRANGEBYSCORE.
    func range(ofChunk i: Int) -> (String, String) {
        let lo = Self.scoreArgument(chunks[i].lo, exclusive: false)
        let hi = i + 1 < chunks.count ? Self.scoreArgument(chunks[i + 1].lo, exclusive: true) : Self.scoreArgument(watermark, exclusive: false)
        return (lo, hi)
    }

    static func scoreArgument(_ x: Double, exclusive: Bool) -> String {
        if x == -.infinity { return "-inf" }
        if x == .infinity { return "+inf" }
        return (exclusive ? "(" : "") + "\(x)"
    }

    /// The chunk index whose range holds `score` (nil above the watermark or with no chunks).
    func chunkIndex(for score: Double) -> Int? {
        guard !chunks.isEmpty, score <= watermark else { return nil }
        var lo = 0
        var hi = chunks.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if chunks[mid].lo <= score { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    // MARK: - Changes

    /// Adds or moves `tag`. A score above the watermark extends the last chunk (or starts one), and
    /// moves the watermark: call it in score order for entries above the watermark.
    mutating func insert(_ tag: Tag, score: Double, route: UInt32) {
        if entries[tag] != nil { remove(tag) }
        let index: Int
        if let i = chunkIndex(for: score) {
            index = i
        } else {
            if chunks.isEmpty {
                chunks.append(Chunk(id: takeChunkID(), lo: -.infinity, count: 0))
            } else if chunks[chunks.count - 1].count >= maxChunk && score > watermark {
                chunks.append(Chunk(id: takeChunkID(), lo: score, count: 0))
            }
            index = chunks.count - 1
            if score > watermark {
                watermark = score
                tiesAtWatermark = 0
            }
        }
        if score == watermark { tiesAtWatermark += 1 }
        chunks[index].count += 1
        entries[tag] = Tracked(score: score, chunk: chunks[index].id, route: route)
        account(route: route, score: score, by: 1)
    }

    /// Forgets `tag` (acked, or restored to its queue).
    mutating func remove(_ tag: Tag) {
        guard let t = entries.removeValue(forKey: tag) else { return }
        if t.score == watermark && tiesAtWatermark > 0 { tiesAtWatermark -= 1 }
        if let i = chunks.firstIndex(where: { $0.id == t.chunk }) { chunks[i].count -= 1 }
        account(route: t.route, score: t.score, by: -1)
    }

    private mutating func account(route: UInt32, score: Double, by delta: Int) {
        routeCounts[Int(route)] += delta
        let second = Int64(score.rounded(.down).clamped(to: -9.0e12...9.0e12))
        for q in routes[Int(route)] {
            let n = deliverySeconds[q][second, default: 0] + delta
            deliverySeconds[q][second] = n == 0 ? nil : n
            deliveryCache[q] = nil
        }
    }

    private mutating func takeChunkID() -> UInt32 {
        defer { nextChunkID &+= 1 }
        return nextChunkID
    }

    /// Tags tracked in the chunks with these ids (one walk over all entries).
    func tags(inChunks ids: Set<UInt32>) -> [UInt32: [Tag]] {
        var out: [UInt32: [Tag]] = [:]
        for (tag, t) in entries where ids.contains(t.chunk) { out[t.chunk, default: []].append(tag) }
        return out
    }

    /// Drops empty chunks and, when removals have left many small ones, regroups all tags into full
    /// chunks (one walk over the entries). Keeps ZCOUNTs per pass near count / maxChunk.
    mutating func compact() {
        var i = 0
        while i < chunks.count && chunks.count > 1 {
            if chunks[i].count == 0 {
                if i == 0 { chunks[1].lo = -.infinity }
                chunks.remove(at: i)
            } else {
                i += 1
            }
        }
        guard chunks.count > 4 + 2 * (entries.count / maxChunk + 1) else { return }
        // Regroup: sort scores, cut every maxChunk at a strict increase.
        let scores = entries.values.map(\.score).sorted()
        var los: [Double] = [-.infinity]
        var inChunk = 0
        for (k, s) in scores.enumerated() {
            if inChunk >= maxChunk && k > 0 && s > scores[k - 1] {
                los.append(s)
                inChunk = 0
            }
            inChunk += 1
        }
        chunks = los.map { Chunk(id: takeChunkID(), lo: $0, count: 0) }
        for (tag, t) in entries {
            guard let index = chunkIndex(for: t.score) else { continue }
            chunks[index].count += 1
            entries[tag]?.chunk = chunks[index].id
        }
    }

    /// Per configured queue: tracked entries.
    var queueCounts: [Int] {
        var counts = Array(repeating: 0, count: queueCount)
        for (route, targets) in routes.enumerated() { for q in targets { counts[q] += routeCounts[route] } }
        return counts
    }

    /// Queue `q`'s delivery times, to the second, oldest first, at most `limit` groups: when there are
    /// more, the newest are merged into the last group, which then carries the newest second (so the
    /// merged entries look no older than they are).
    mutating func deliveries(queue q: Int, limit: Int = 1024) -> [DeliveryGroup] {
        if let cached = deliveryCache[q] { return cached }
        let sorted = deliverySeconds[q].sorted { $0.key < $1.key }
        var out = sorted.prefix(limit).map { DeliveryGroup(second: $0.key, count: $0.value) }
        if sorted.count > limit, !out.isEmpty {
            out[out.count - 1].count += sorted.dropFirst(limit).reduce(0) { $0 + $1.value }
            out[out.count - 1].second = sorted[sorted.count - 1].key
        }
        deliveryCache[q] = out
        return out
    }
}

extension Double {
    func clamped(to r: ClosedRange<Double>) -> Double { isNaN ? 0 : Swift.min(Swift.max(self, r.lowerBound), r.upperBound) }
}
