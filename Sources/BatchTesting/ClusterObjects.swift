import Foundation
import LocalProcesses

/// A BatchQueue as tests read it back from the cluster (`kubectl get batchqueue -o json`): the fields tests
/// look at, typed. BatchTesting does not depend on BatchCore, so this is its own small model of the wire format.
public struct QueueObject: Decodable, Sendable, Equatable {
    public struct Metadata: Decodable, Sendable, Equatable {
        public var name: String?
        public var resourceVersion: String?
    }

    /// `spec.reservation`.
    public struct Reservation: Decodable, Sendable, Equatable {
        public var holder: String?
        public var reason: String?
        /// RFC 3339, as stored.
        public var claimedAt: String?
        public var expiresAt: String?
        public var replicas: Int?

        /// `claimedAt` as seconds since 1970 (nil when absent or not RFC 3339).
        public var claimedAtSeconds: Int64? { Self.seconds(claimedAt) }
        /// `expiresAt` as seconds since 1970.
        public var expiresAtSeconds: Int64? { Self.seconds(expiresAt) }

        static func seconds(_ text: String?) -> Int64? {
            text.flatMap { ISO8601DateFormatter().date(from: $0) }.map { Int64($0.timeIntervalSince1970) }
        }
    }

    public struct Spec: Decodable, Sendable, Equatable {
        public var queue: String?
        public var deployment: String?
        public var maxReplicas: Int?
        public var reservation: Reservation?
    }

    /// One of `status.conditions`.
    public struct Condition: Decodable, Sendable, Equatable {
        public var type: String
        /// `True`, `False` or `Unknown`.
        public var status: String?
        public var reason: String?
        public var message: String?
        public var lastTransitionTime: String?
    }

    /// `status.reminders`: what was sent.
    public struct Reminders: Decodable, Sendable, Equatable {
        /// Seconds before expiry of each expiring-soon reminder sent.
        public var expiringSent: [Int]?
    }

    public struct Status: Decodable, Sendable, Equatable {
        public var phase: String?
        public var depth: Int?
        public var inFlight: Int?
        public var busyWorkers: Int?
        /// RFC 3339 (with microseconds): the pass that last saw work.
        public var lastActiveAt: String?
        /// In-flight tasks held by workers that died.
        public var stranded: Int?
        public var replicas: Int?
        public var readyReplicas: Int?
        /// RFC 3339, when stranded tasks are redelivered.
        public var strandedRedeliveryAt: String?
        public var conditions: [Condition]?
        public var reminders: Reminders?

        /// No status written yet.
        public init() {}
    }

    public var metadata: Metadata
    public var spec: Spec
    public var status: Status?

    /// The condition of `type`, if set.
    public func condition(_ type: String) -> Condition? {
        status?.conditions?.first { $0.type == type }
    }
}

/// A core/v1 or events.k8s.io/v1 Event as tests read it (`kubectl get events -o json`).
public struct EventObject: Decodable, Sendable, Equatable {
    public struct Metadata: Decodable, Sendable, Equatable {
        public var creationTimestamp: String?
    }
    public var metadata: Metadata?
    /// events.k8s.io/v1's `eventTime` (RFC 3339 with microseconds).
    public var eventTime: String?
    public var type: String?
    public var reason: String?
    /// core/v1's `message`.
    public var message: String?
    /// events.k8s.io/v1's `note`.
    public var note: String?

    /// The text, whichever API wrote it.
    public var text: String? { message ?? note }
    /// When it happened: `eventTime`, else the creation time.
    public var time: String { eventTime ?? metadata?.creationTimestamp ?? "" }
}

/// A Kubernetes list (`{"items": [...]}`).
public struct ObjectList<Item: Decodable & Sendable>: Decodable, Sendable {
    public var items: [Item]
}

/// Decodes `text` as `T`, with an error that quotes what did not decode.
public func decodeJSON<T: Decodable>(_ type: T.Type, from text: String, what: String) throws -> T {
    do {
        return try JSONDecoder().decode(T.self, from: Data(text.utf8))
    } catch {
        throw SupportError("\(what) did not decode as \(T.self) (\(error)): \(text.prefix(2000))")
    }
}

extension ControllerHarness {
    /// The BatchQueue `name`, typed.
    public func queueObject(_ name: String) throws -> QueueObject {
        let r = try sim.kubectl(["get", "batchqueue", name, "-n", namespace, "-o", "json"])
        guard r.status == 0 else { throw SupportError("kubectl get batchqueue \(name) failed: \(r.stderr)") }
        return try decodeJSON(QueueObject.self, from: r.stdout, what: "batchqueue \(name)")
    }

    /// `status.phase` of a BatchQueue (nil when it cannot be read).
    public func phase(_ name: String) -> String? {
        (try? queueObject(name))?.status?.phase
    }

    /// Whether the controller has reported `name` as claimed (Reserved, Running or Sleeping): tasks sent to it
    /// from then on are never taken for orphaned ones.
    public func claimSeen(_ name: String) -> Bool {
        phase(name).map { ["Reserved", "Sleeping", "Running"].contains($0) } == true
    }

    /// The condition `type` of BatchQueue `name`, if set (nil too when the queue cannot be read).
    public func condition(_ name: String, _ type: String) -> QueueObject.Condition? {
        (try? queueObject(name))?.condition(type)
    }

    /// `spec.reservation` of BatchQueue `name` (nil when free or unreadable).
    public func reservation(_ name: String) -> QueueObject.Reservation? {
        (try? queueObject(name))?.spec.reservation
    }

    /// `status.busyWorkers` of a BatchQueue.
    public func busyWorkers(_ name: String) -> Int? {
        (try? queueObject(name))?.status?.busyWorkers
    }

    /// The Events recorded on BatchQueue `queue`, oldest first.
    public func events(_ queue: String) throws -> [EventObject] {
        let r = try sim.kubectl(["get", "events", "-n", namespace, "--field-selector", "involvedObject.name=\(queue)",
                                 "--sort-by", ".metadata.creationTimestamp", "-o", "json"])
        guard r.status == 0 else { throw SupportError("kubectl get events failed: \(r.stderr)") }
        return try decodeJSON(ObjectList<EventObject>.self, from: r.stdout, what: "events of \(queue)").items
    }
}

/// `text` as a JSON string literal, quotes and escapes included (for JSON written by hand).
public func jsonString(_ text: String) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .withoutEscapingSlashes
    return (try? encoder.encode(text)).map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
}

extension ControllerHarness {
    /// Reconcile passes controller `index` has finished, whatever their result (nil when its /metrics cannot be read).
    public func passes(controller index: Int) -> Double? {
        guard let text = try? metrics(index) else { return nil }
        var total = 0.0
        for line in text.split(separator: "\n") where line.hasPrefix("batchctl_reconcile_total{") {
            total += Double(line.split(separator: " ").last ?? "") ?? 0
        }
        return total
    }

    /// Waits until the running controllers together have finished `count` more reconcile passes than when it was
    /// called: the condition to wait on before checking that something did *not* happen (one warning, not two).
    /// A stopped controller counts for nothing. Returns whether they did within `timeout`.
    @discardableResult
    public func waitForPasses(_ count: Int, timeout: Duration = .seconds(60)) -> Bool {
        let before = metricsPorts.indices.map { passes(controller: $0) }
        return Wait.until(timeout: timeout, interval: .milliseconds(100)) {
            let done = metricsPorts.indices.reduce(0.0) { sum, i in
                guard let start = before[i], let now = passes(controller: i) else { return sum }
                return sum + max(0, now - start)
            }
            return done >= Double(count)
        }
    }

    /// What `batchctl probe -o json --queue QUEUE` reports (listening to heartbeats for 2.5 s, reading the pods
    /// as admin); nil when the probe fails.
    public func probe(_ queue: String) -> ProbeView? {
        guard let r = try? Command.run(ProjectPaths.product("batchctl"),
                                       ["probe", "--config", configPath, "--kubeconfig", sim.kubeconfigPath, "--context", "admin",
                                        "-n", namespace, "--queue", queue, "-o", "json"],
                                       environment: ["BATCHCTL_CONFIG": ""]), r.status == 0 else { return nil }
        return try? decodeJSON(ProbeView.self, from: r.stdout, what: "batchctl probe")
    }
}

/// The parts of `batchctl probe -o json` tests read.
public struct ProbeView: Decodable, Sendable {
    public struct Queue: Decodable, Sendable {
        public var name: String
        public var depth: Int?
        public var inFlight: Int?
        public var busyWorkers: Int?
    }
    /// The server read, and its memory.
    public struct Redis: Decodable, Sendable {
        public var server: String
        public var sentinel: String?
        public var masterName: String?
        public var usedMemory: Int?
        public var maxMemory: Int?
    }
    public struct Worker: Decodable, Sendable {
        public var hostname: String
        public var active: Int
        public var stale: Bool
        public var deployment: String?
    }
    public var queues: [Queue]
    public var workers: [Worker]?
    public var redis: Redis
    public var roundTrips: Int

    /// Reads `batchctl probe -o json`'s output.
    public static func parse(_ text: String) throws -> ProbeView {
        try decodeJSON(ProbeView.self, from: text, what: "batchctl probe -o json")
    }
}
