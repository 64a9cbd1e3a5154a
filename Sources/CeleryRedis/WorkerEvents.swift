import FoundationEssentials

/// A Celery worker event (`worker-online`, `worker-heartbeat`, `worker-offline`) as published on the
/// broker. Workers send these without `-E`: every `freq` seconds (2 by default) a heartbeat with the
/// number of tasks executing (`active`, prefetched ones excluded) and started so far (`processed`).
public struct WorkerEvent: Sendable, Equatable {
    /// `worker-heartbeat`, `worker-online` or `worker-offline`.
    public var type: String
    /// `celery@<node>`; on Kubernetes the node is the pod name.
    public var hostname: String
    /// Tasks executing when the event was sent.
    public var active: Int
    /// Tasks started (accepted) since the worker started, including running ones.
    public var processed: Int
    /// Seconds between heartbeats.
    public var freq: Double
    /// The worker's clock when it sent the event (Unix seconds).
    public var timestamp: Double?

    public init(type: String, hostname: String, active: Int, processed: Int, freq: Double, timestamp: Double? = nil) {
        self.type = type
        self.hostname = hostname
        self.active = active
        self.processed = processed
        self.freq = freq
        self.timestamp = timestamp
    }

    /// Decodes a pub/sub payload: a kombu envelope (JSON) whose `body` is the event as JSON, base64-encoded
    /// when `properties.body_encoding` is `base64` (always, with Celery 5.7's defaults).
    /// - Returns: nil for payloads that are valid but not a single worker event (buffered task events
    ///   arrive as a JSON array).
    /// - Throws: `WorkerEventError` naming what is wrong, for payloads this code cannot read.
    public static func decode(_ payload: [UInt8]) throws(WorkerEventError) -> WorkerEvent? {
        let envelope: Envelope
        do {
            envelope = try JSONDecoder().decode(Envelope.self, from: Data(payload))
        } catch {
            throw WorkerEventError(problem: "the message is not a kombu JSON envelope (\(error))")
        }
        if let type = envelope.contentType, type != "application/json" {
            throw WorkerEventError(problem: "the event is serialized as \(type); batchctl reads only JSON events (Celery's default event_serializer)")
        }
        let body: Data
        if envelope.properties?.bodyEncoding == "base64" {
            guard let decoded = Data(base64Encoded: envelope.body) else {
                throw WorkerEventError(problem: "the body is not valid base64")
            }
            body = decoded
        } else {
            body = Data(envelope.body.utf8)
        }
        if body.first == UInt8(ascii: "[") { return nil }
        let fields: Fields
        do {
            fields = try JSONDecoder().decode(Fields.self, from: body)
        } catch {
            throw WorkerEventError(problem: "the body is not a worker event (\(error))")
        }
        return WorkerEvent(type: fields.type, hostname: fields.hostname, active: fields.active ?? 0,
                           processed: fields.processed ?? 0, freq: fields.freq ?? 2.0, timestamp: fields.timestamp)
    }

    private struct Envelope: Decodable {
        var body: String
        var contentType: String?
        var properties: Properties?
        enum CodingKeys: String, CodingKey {
            case body
            case contentType = "content-type"
            case properties
        }
    }

    private struct Properties: Decodable {
        var bodyEncoding: String?
        enum CodingKeys: String, CodingKey { case bodyEncoding = "body_encoding" }
    }

    private struct Fields: Decodable {
        var type: String
        var hostname: String
        var active: Int?
        var processed: Int?
        var freq: Double?
        var timestamp: Double?
    }
}

/// A worker event that could not be read.
public struct WorkerEventError: Error, CustomStringConvertible, Equatable {
    /// What is wrong with the payload.
    public let problem: String
    /// The message for logs.
    public var description: String { "cannot read a Celery worker event: \(problem)" }
}

/// What is known about one worker from its events.
public struct WorkerStatus: Sendable, Codable, Equatable {
    /// `celery@<node>`, as the worker reports it.
    public var hostname: String
    /// Tasks executing at the last heartbeat.
    public var active: Int
    /// Tasks started (accepted) since the worker started, including running ones.
    public var processed: Int
    /// Seconds between its heartbeats.
    public var freq: Double
    /// When its last event arrived (local clock).
    public var lastSeen: Date
    /// No event for more than two heartbeat intervals: the worker is probably gone.
    public var stale: Bool

    public init(hostname: String, active: Int, processed: Int, freq: Double, lastSeen: Date, stale: Bool) {
        self.hostname = hostname
        self.active = active
        self.processed = processed
        self.freq = freq
        self.lastSeen = lastSeen
        self.stale = stale
    }

    /// The pod name: `hostname` after `@` (`celery@<pod>`).
    public var nodeName: String {
        guard let at = hostname.firstIndex(of: "@") else { return hostname }
        return String(hostname[hostname.index(after: at)...])
    }

    /// Executing at least one task, as of a heartbeat that is not stale.
    public var isBusy: Bool { !stale && active > 0 }

    /// The Deployment among `deployments` whose pod this worker is, by Kubernetes' pod naming:
    /// `<deployment>-<replicaset hash>-<suffix>`, i.e. the node name is a deployment name followed by
    /// exactly two more dash-separated parts. Nil when none matches.
    public func deployment(among deployments: [String]) -> String? {
        let node = nodeName
        var best: String?
        for d in deployments where node.hasPrefix(d + "-") {
            let rest = node.dropFirst(d.count + 1).split(separator: "-", omittingEmptySubsequences: false)
            if rest.count == 2, rest.allSatisfy({ !$0.isEmpty }), d.count > (best?.count ?? -1) { best = d }
        }
        return best
    }
}

/// Per-worker state from worker events. A value type: feed it events, read snapshots. Pure.
public struct WorkerRegistry: Sendable, Equatable {
    private var workers: [String: WorkerStatus] = [:]

    public init() {}

    /// Records `event`, received at `now`. `worker-offline` forgets the worker.
    public mutating func apply(_ event: WorkerEvent, receivedAt now: Date) {
        guard event.type.hasPrefix("worker-") else { return }
        if event.type == "worker-offline" {
            workers[event.hostname] = nil
            return
        }
        workers[event.hostname] = WorkerStatus(hostname: event.hostname, active: event.active, processed: event.processed,
                                               freq: event.freq, lastSeen: now, stale: false)
    }

    /// Every known worker, sorted by hostname, with `stale` set when nothing arrived from it for more
    /// than two heartbeat intervals before `now`.
    public func snapshot(now: Date) -> [WorkerStatus] {
        workers.values.sorted { $0.hostname < $1.hostname }.map { w in
            var w = w
            w.stale = now.timeIntervalSince(w.lastSeen) > 2 * max(w.freq, 0.1)
            return w
        }
    }
}

extension [WorkerStatus] {
    /// How many of these workers are busy and belong to `deployment` (see `WorkerStatus.deployment(among:)`;
    /// `deployments` is every configured Deployment, so the longest matching name wins).
    public func busyCount(deployment: String, among deployments: [String]) -> Int {
        filter { $0.isBusy && $0.deployment(among: deployments) == deployment }.count
    }
}
