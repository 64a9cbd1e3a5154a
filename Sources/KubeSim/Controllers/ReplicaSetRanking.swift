import BatchCore
import Foundation
import MemberwiseInit

/// Which pods a ReplicaSet removes first on scale-down, as kube-controller-manager orders them:
/// `ActivePodsWithRanks.Less` in kubernetes/kubernetes `pkg/controller/controller_utils.go`, used by
/// `getPodsToDelete` in `pkg/controller/replicaset/replica_set.go` (see docs/kubesim.md). The pod that
/// sorts first is deleted first:
///
/// 1. unassigned (no `spec.nodeName`) before assigned;
/// 2. phase Pending before Unknown before Running;
/// 3. not ready before ready;
/// 4. lower `controller.kubernetes.io/pod-deletion-cost` before higher (an int32; unparsable is 0);
/// 5. more ready pods of the ReplicaSet on the same node before fewer ("doubled up");
/// 6. both ready: ready for less time before longer;
/// 7. more container restarts before fewer;
/// 8. created more recently before older.
///
/// Times in 6 and 8 compare on a logarithmic scale of their age (the LogarithmicScaleDown feature,
/// on by default): pods of the same power-of-two age are ordered by UID, pseudo-randomly.
public enum ReplicaSetRanking {
    /// The fields of a Pod object the order reads.
    @MemberwiseInit(.public)
    public struct Pod: Sendable, Equatable {
        public var name: String
        public var uid: String = ""
        public var nodeName: String = "kubesim"
        public var phase: String = "Running"
        /// `Ready` condition true, and since when.
        public var readySince: Date?
        public var deletionCost: Int32 = 0
        public var restarts: Int = 0
        public var created: Date?

        /// Reads a Pod object.
        public init(_ object: JSONValue) {
            let meta = object["metadata"]
            name = meta?["name"]?.stringValue ?? ""
            uid = meta?["uid"]?.stringValue ?? ""
            nodeName = object["spec"]?["nodeName"]?.stringValue ?? ""
            phase = object["status"]?["phase"]?.stringValue ?? ""
            let ready = (object["status"]?["conditions"]?.arrayValue ?? []).first {
                $0["type"]?.stringValue == "Ready" && $0["status"]?.stringValue == "True"
            }
            readySince = ready.map { $0["lastTransitionTime"]?.stringValue.flatMap(Timestamps.parse) ?? Date(timeIntervalSince1970: 0) }
            deletionCost = meta?["annotations"]?["controller.kubernetes.io/pod-deletion-cost"]?.stringValue.flatMap { Int32($0) } ?? 0
            restarts = (object["status"]?["containerStatuses"]?.arrayValue ?? []).map { Int($0["restartCount"]?.intValue ?? 0) }.max() ?? 0
            created = meta?["creationTimestamp"]?.stringValue.flatMap(Timestamps.parse)
        }

        var isReady: Bool { readySince != nil }
    }

    static let phaseOrdinal = ["Pending": 0, "Unknown": 1, "Running": 2]

    /// `pods` in deletion order (the first is removed first), as seen at `now`.
    public static func deletionOrder(_ pods: [Pod], now: Date) -> [Pod] {
        var readyOnNode: [String: Int] = [:]
        for p in pods where p.isReady { readyOnNode[p.nodeName, default: 0] += 1 }
        return pods.sorted { deleteFirst($0, $1, now: now, readyOnNode: readyOnNode) }
    }

    /// `ActivePodsWithRanks.Less`: whether `a` is preferred for deletion over `b`.
    static func deleteFirst(_ a: Pod, _ b: Pod, now: Date, readyOnNode: [String: Int]) -> Bool {
        if a.nodeName != b.nodeName && (a.nodeName.isEmpty || b.nodeName.isEmpty) { return a.nodeName.isEmpty }
        let pa = phaseOrdinal[a.phase] ?? 0, pb = phaseOrdinal[b.phase] ?? 0
        if pa != pb { return pa < pb }
        if a.isReady != b.isReady { return !a.isReady }
        if a.deletionCost != b.deletionCost { return a.deletionCost < b.deletionCost }
        let ra = readyOnNode[a.nodeName] ?? 0, rb = readyOnNode[b.nodeName] ?? 0
        if ra != rb { return ra > rb }
        if let ta = a.readySince, let tb = b.readySince, ta != tb {
            return laterOnLogScale(ta, tb, a, b, now: now)
        }
        if a.restarts != b.restarts { return a.restarts > b.restarts }
        if a.created != b.created {
            guard let ca = a.created, let cb = b.created else { return a.created == nil }   // empty first
            return laterOnLogScale(ca, cb, a, b, now: now)
        }
        return false
    }

    /// `logarithmicRankDiff`: the more recent time first, compared by ⌊log2(age in ns)⌋; equal ranks by UID.
    static func laterOnLogScale(_ ta: Date, _ tb: Date, _ a: Pod, _ b: Pod, now: Date) -> Bool {
        func rank(_ t: Date) -> Int64 {
            let age = now.timeIntervalSince(t) * 1e9
            return age > 0 ? Int64(log2(age)) : -1
        }
        let diff = rank(ta) - rank(tb)
        return diff == 0 ? a.uid < b.uid : diff < 0
    }
}
