import Foundation

/// What an API request was for, as the benchmarks count KubeSim's request log.
public enum RequestKind: String, CaseIterable, Sendable {
    /// PUT of a Lease: the leader renewing (or taking) it.
    case leaseWrite = "Lease writes"
    /// GET of a Lease (a standby looking, or a leader re-reading after a failed renewal).
    case leaseRead = "Lease reads"
    /// A watch request (`?watch=true`); one per stream opened, however long it stays open.
    case watch = "watches"
    /// A list request (the start of every list+watch).
    case list = "lists"
    /// Any other read (a single object, discovery, SelfSubjectReview).
    case otherRead = "other reads"
    /// A write to a Deployment's `/scale`.
    case scaleWrite = "scale writes"
    /// A write to a BatchQueue (spec or `/status`).
    case batchQueueWrite = "BatchQueue writes"
    /// A new Event (either API group).
    case eventWrite = "Event writes"
    /// Any other write.
    case otherWrite = "other writes"
}

extension KubeSimServer.RequestRecord {
    /// What the request was for.
    public var kind: RequestKind {
        let path = self.path
        if isWrite {
            if path.contains("/leases/") { return .leaseWrite }
            if path.hasSuffix("/scale") && path.contains("/deployments/") { return .scaleWrite }
            if path.contains("/batchqueues/") { return .batchQueueWrite }
            if path.hasSuffix("/events") || path.contains("/events/") { return .eventWrite }
            return .otherWrite
        }
        if verb == "watch" || query.split(separator: "&").contains("watch=true") || query.split(separator: "&").contains("watch=1") { return .watch }
        if verb == "list" { return .list }
        if path.contains("/leases/") { return .leaseRead }
        return .otherRead
    }

    /// The server-side time the request arrived (nil when the log's time does not parse).
    public var date: Date? { KubeTimestamp.parse(time) }
}

/// KubeSim's request-log times (RFC 3339 with microseconds).
public enum KubeTimestamp {
    /// Parses `2026-11-22T02:37:00.123456Z` (fractional seconds optional).
    public static func parse(_ text: String) -> Date? {
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = withFraction.date(from: text) { return d }
        return ISO8601DateFormatter().date(from: text)
    }
}

/// Requests counted by kind.
public struct RequestTally: Sendable, Equatable {
    public private(set) var counts: [RequestKind: Int] = [:]

    public init(_ records: [KubeSimServer.RequestRecord]) {
        for r in records { counts[r.kind, default: 0] += 1 }
    }

    public subscript(kind: RequestKind) -> Int { counts[kind] ?? 0 }

    public var total: Int { counts.values.reduce(0, +) }

    /// Writes of any kind.
    public var writes: Int { [RequestKind.leaseWrite, .scaleWrite, .batchQueueWrite, .eventWrite, .otherWrite].map { self[$0] }.reduce(0, +) }

    /// `30 Lease writes, 0 watches, ...`: every kind, in `RequestKind` order, zeros included.
    public var summary: String {
        RequestKind.allCases.map { "\(self[$0]) \($0.rawValue)" }.joined(separator: ", ")
    }

    /// Splits `records` into `count` consecutive windows of `length` from `start` (by server time);
    /// records outside them, or with a time that does not parse, are left out.
    public static func windows(_ records: [KubeSimServer.RequestRecord], from start: Date, length: TimeInterval,
                               count: Int) -> [[KubeSimServer.RequestRecord]] {
        var out = [[KubeSimServer.RequestRecord]](repeating: [], count: max(0, count))
        for r in records {
            guard let d = r.date else { continue }
            let offset = d.timeIntervalSince(start)
            guard offset >= 0 else { continue }
            let i = Int(offset / length)
            if i < out.count { out[i].append(r) }
        }
        return out
    }
}
