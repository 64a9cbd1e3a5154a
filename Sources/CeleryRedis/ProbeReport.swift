import BatchCore
import FoundationEssentials

/// What `batchctl probe` prints, as JSON (`json()`) or as a table (`table()`): each queue's depth, in-flight
/// and busy workers, Redis's memory and the unacked hash, and the workers heard from.
public struct ProbeReport: Encodable, Sendable {
    /// One configured queue as probed.
    public struct Queue: Encodable, Sendable {
        public var name: String
        public var deployment: String
        public var depth: Int?
        public var inFlight: Int?
        /// Workers of the queue's Deployment running tasks (`WorkerPods`, the controller's rule). Nil when
        /// heartbeats were not listened to, or when busy workers were heard but the pods could not be read.
        public var busyWorkers: Int?
        public var error: String?
    }

    /// The server probed.
    public struct Redis: Encodable, Sendable {
        /// The server read (behind Sentinel, the master the sentinels named).
        public var server: String
        /// Behind Sentinel: the master's name, and the sentinel (`host:port`) that named `server`.
        public var masterName: String?
        public var sentinel: String?
        public var database: Int
        public var usedMemory: Int64?
        public var maxMemory: Int64?
    }

    /// A worker heard from (heartbeats), and the Deployment its pod belongs to (nil when the pods were not
    /// read, or none selects it). In JSON, the worker's fields and `deployment` stand side by side.
    public struct Worker: Encodable, Sendable {
        public var status: WorkerStatus
        public var deployment: String?

        private enum Key: String, CodingKey { case deployment }

        public func encode(to encoder: any Encoder) throws {
            try status.encode(to: encoder)
            var container = encoder.container(keyedBy: Key.self)
            try container.encodeIfPresent(deployment, forKey: .deployment)
        }
    }

    public var queues: [Queue]
    public var redis: Redis
    public var unacked: UnackedSummary
    public var workers: [Worker]?
    public var roundTrips: Int
    public var observedAt: Date
    public var listenedSeconds: Double

    /// Joins a probe's result with the configured queues (same order) and, when heartbeats were listened to
    /// for `listenedFor`, the workers seen, assigned to Deployments by `pods` (nil: the pods were not read;
    /// then a queue's busy workers are known only when no worker at all is busy).
    public init(result: QueueProbeResult, queues configured: [QueueConfig], workers: [WorkerStatus]?, pods: WorkerPods? = nil,
                server: String, database: Int, listenedFor: TimeSpan, masterName: String? = nil, sentinel: String? = nil) {
        let busy = (workers ?? []).filter(\.isBusy).map(\.hostname)
        queues = zip(result.queues, configured).map { state, config in
            var count: Int?
            if workers != nil { count = pods.map { $0.busyCount(of: config.deployment, busyHostnames: busy) } ?? (busy.isEmpty ? 0 : nil) }
            return Queue(name: state.name, deployment: config.deployment, depth: state.depth, inFlight: state.inFlight,
                         busyWorkers: count, error: state.error)
        }
        redis = Redis(server: server, masterName: masterName, sentinel: sentinel, database: database, usedMemory: result.memory?.used, maxMemory: result.memory?.max)
        unacked = result.unacked
        self.workers = workers?.map {
            Worker(status: $0, deployment: pods?.deployment(ofHostname: $0.hostname))
        }
        roundTrips = result.roundTrips
        observedAt = result.observedAt
        listenedSeconds = listenedFor.seconds
    }

    /// Pretty-printed JSON with sorted keys and ISO 8601 times.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// The human-readable tables: queues, Redis, then workers (when listened to).
    public func table() -> String {
        func cell(_ n: Int?) -> String { n.map(String.init) ?? "?" }
        var rows = [["QUEUE", "DEPTH", "IN-FLIGHT", "BUSY", "DEPLOYMENT"]]
        for q in queues {
            rows.append([q.name, cell(q.depth), cell(q.inFlight), q.busyWorkers.map(String.init) ?? "-", q.deployment])
        }
        var out = Self.render(rows, rightAligned: [1, 2, 3])
        for q in queues { if let error = q.error { out += "  \(q.name): \(error)\n" } }
        let memory: String
        if let used = redis.usedMemory, let max = redis.maxMemory {
            let percent = RedisMemoryReading(used: used, max: max).usedPercent
            memory = "used memory \(Self.bytes(used))" + (percent.map { " of \(Self.bytes(max)) (\($0)%)" } ?? ", no maxmemory")
        } else {
            memory = "memory unknown"
        }
        var via = ""
        if let masterName = redis.masterName { via = " (master \(masterName), named by sentinel \(redis.sentinel ?? "?"))" }
        out += "\nRedis \(redis.server)\(via) db \(redis.database): \(memory); unacked holds \(unacked.entries) (\(unacked.otherQueues) for other queues); \(roundTrips) round trip\(roundTrips == 1 ? "" : "s")\n"
        if let error = unacked.error { out += "  unacked: \(error)\n" }
        guard let workers else { return out }
        if workers.isEmpty {
            out += "\nNo worker heartbeats in \(TimeSpan(milliseconds: Int64(listenedSeconds * 1000))).\n"
            return out
        }
        var wrows = [["WORKER", "ACTIVE", "PROCESSED", "LAST SEEN", "STATE"]]
        for w in workers.map(\.status) {
            let ago = observedAt.timeIntervalSince(w.lastSeen).fixed(1) + "s ago"
            wrows.append([w.hostname, String(w.active), String(w.processed), ago, w.stale ? "stale" : (w.active > 0 ? "busy" : "idle")])
        }
        out += "\n" + Self.render(wrows, rightAligned: [1, 2, 3])
        return out
    }

    static func render(_ rows: [[String]], rightAligned: Set<Int>) -> String {
        var widths = [Int](repeating: 0, count: rows.first?.count ?? 0)
        for row in rows { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
        var out = ""
        for row in rows {
            let cells = row.enumerated().map { i, c in
                let pad = String(repeating: " ", count: widths[i] - c.count)
                return rightAligned.contains(i) ? pad + c : c + pad
            }
            var line = cells.joined(separator: "  ")
            while line.last == " " { line.removeLast() }
            out += line + "\n"
        }
        return out
    }

    static func bytes(_ n: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(n)
        var u = 0
        while v >= 1024 && u < units.count - 1 {
            v /= 1024
            u += 1
        }
        return u == 0 ? "\(n) B" : v.fixed(1) + " " + units[u]
    }
}
