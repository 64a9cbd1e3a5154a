import BatchCore
import FoundationEssentials
import MemberwiseInit

/// A Celery worker event (`worker-online`, `worker-heartbeat`, `worker-offline`) as published on the
/// broker. Workers send these without `-E`: every `freq` seconds (2 by default) a heartbeat with the
/// number of tasks executing (`active`, prefetched ones excluded) and started so far (`processed`).
@MemberwiseInit(.public)
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

    /// The largest payload read: a worker event is a few hundred bytes; anything near this is not one.
    public static let maxPayloadBytes = 64 * 1024
    /// The most tasks one worker can report running (`active`, `processed` are clamped to it).
    public static let maxTaskCount = 1_000_000
    /// The range `freq` (seconds between heartbeats) is clamped to: a worker announcing `1e300` would
    /// otherwise never turn stale.
    public static let freqRange: ClosedRange<Double> = 0.5...60
    /// The longest hostname kept (`celery@` plus a 253-character pod name).
    public static let maxHostnameBytes = 7 + 253

    /// Decodes a pub/sub payload: a kombu envelope (JSON) whose `body` is the event as JSON, base64-encoded
    /// when `properties.body_encoding` is `base64` (always, with Celery 5.7's defaults).
    ///
    /// Heartbeats come from task code's processes, so every number is untrusted: `active` and `processed`
    /// are clamped to `0...maxTaskCount` (any JSON number, even `1e300`, is read), `freq` to `freqRange`
    /// (missing, NaN or infinite: 2 s), a `timestamp` that is not finite is dropped.
    /// - Returns: nil for payloads that are valid but not a single worker event (buffered task events
    ///   arrive as a JSON array).
    /// - Throws: `WorkerEventError` naming what is wrong, for payloads this code cannot read (including
    ///   payloads over `maxPayloadBytes` and hostnames over `maxHostnameBytes`).
    public static func decode(_ payload: [UInt8]) throws(WorkerEventError) -> WorkerEvent? {
        guard payload.count <= maxPayloadBytes else {
            throw WorkerEventError(problem: "the message has \(payload.count) bytes, more than the \(maxPayloadBytes) a worker event may have")
        }
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
        guard fields.hostname.utf8.count <= maxHostnameBytes, fields.type.utf8.count <= 64 else {
            throw WorkerEventError(problem: "the hostname or type is longer than a Celery worker's can be")
        }
        let freq = fields.freq.flatMap { $0.isFinite ? $0 : nil } ?? 2.0
        return WorkerEvent(type: fields.type, hostname: fields.hostname, active: clampedCount(fields.active),
                           processed: clampedCount(fields.processed), freq: min(max(freq, freqRange.lowerBound), freqRange.upperBound),
                           timestamp: fields.timestamp.flatMap { $0.isFinite ? $0 : nil })
    }

    /// A task count from any JSON number: 0 when missing or not finite, else clamped to `0...maxTaskCount`.
    static func clampedCount(_ value: Double?) -> Int {
        guard let value, value.isFinite, value > 0 else { return 0 }
        return value >= Double(maxTaskCount) ? maxTaskCount : Int(value)
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
        var active: Double?
        var processed: Double?
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
@MemberwiseInit(.public)
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

    /// The pod name: `hostname` after `@` (`celery@<pod>`).
    public var nodeName: String {
        guard let at = hostname.firstIndex(of: "@") else { return hostname }
        return String(hostname[hostname.index(after: at)...])
    }

    /// Whether `hostname` is `celery@<pod name>`: the prefix Celery's default `celery@%h` gives, then a
    /// DNS-1123 subdomain of at most 253 characters (what a pod name is). Only these can be batchctl's workers.
    public static func isPodHostname(_ hostname: String) -> Bool {
        let bytes = hostname.utf8
        guard hostname.hasPrefix("celery@") else { return false }
        let node = bytes.dropFirst(7)
        guard !node.isEmpty, node.count <= 253 else { return false }
        func alnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) }
        guard let first = node.first, let last = node.last, alnum(first), alnum(last) else { return false }
        return node.allSatisfy { alnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
    }

    /// What the controller reads of it (BatchCore's observation model).
    public var activity: WorkerActivity { WorkerActivity(hostname: hostname, active: active, processed: processed) }

    /// Executing at least one task, as of a heartbeat that is not stale.
    public var isBusy: Bool { !stale && active > 0 }
}

/// Per-worker state from worker events. A value type: feed it events, read snapshots. Pure.
///
/// Bounded: only `celery@<pod name>` hostnames are kept (see `WorkerStatus.isPodHostname`), a worker
/// not heard from for `expiry` is forgotten, and at most `capacity` workers are kept (when full, the one
/// heard from longest ago makes room). Anyone who can publish on the broker can send events, so a flood
/// of invented hostnames costs a fixed amount of memory and cannot push out a live worker that keeps
/// sending heartbeats for longer than the flood's own entries.
public struct WorkerRegistry: Sendable, Equatable {
    private var workers: [String: WorkerStatus] = [:]
    /// At most this many workers are kept.
    public let capacity: Int
    /// A worker heard from longer ago than this is forgotten.
    public let expiry: TimeInterval
    /// Events dropped: hostname not `celery@<pod name>`.
    public private(set) var ignoredHostnames = 0
    /// Workers forgotten to make room (a flood of hostnames, or a very large fleet).
    public private(set) var evicted = 0

    /// - Parameters:
    ///   - capacity: workers kept at most (a fleet larger than this loses its oldest-heard workers).
    ///   - expiry: how long a silent worker is remembered (a stale worker is still shown, as stale, until then).
    public init(capacity: Int = 4096, expiry: TimeInterval = 600) {
        self.capacity = max(1, capacity)
        self.expiry = expiry
    }

    /// How many workers are kept now.
    public var count: Int { workers.count }

    /// Records `event`, received at `now`. `worker-offline` forgets the worker. Events whose hostname is
    /// not `celery@<pod name>` are counted in `ignoredHostnames` and dropped.
    public mutating func apply(_ event: WorkerEvent, receivedAt now: Date) {
        guard event.type.hasPrefix("worker-") else { return }
        guard WorkerStatus.isPodHostname(event.hostname) else {
            ignoredHostnames &+= 1
            return
        }
        if event.type == "worker-offline" {
            workers[event.hostname] = nil
            return
        }
        if workers[event.hostname] == nil && workers.count >= capacity {
            if let oldest = workers.min(by: { ($0.value.lastSeen, $0.key) < ($1.value.lastSeen, $1.key) }) {
                workers[oldest.key] = nil
                evicted &+= 1
            }
        }
        workers[event.hostname] = WorkerStatus(hostname: event.hostname, active: event.active, processed: event.processed,
                                               freq: event.freq, lastSeen: now, stale: false)
    }

    /// Forgets workers not heard from for `expiry` before `now`.
    public mutating func expire(now: Date) {
        workers = workers.filter { now.timeIntervalSince($0.value.lastSeen) <= expiry }
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
