import BatchCore

/// One line of a watch stream: `{"type": ..., "object": ...}`.
public enum WatchEvent<T: KubeResource>: Sendable {
    case added(T)
    case modified(T)
    case deleted(T)
    /// Progress marker: only `metadata.resourceVersion` is meaningful.
    case bookmark(resourceVersion: String)
    /// The server ended the watch with a Status (410 Expired when the resourceVersion is too old).
    case error(KubeStatus)
    /// ADDED or MODIFIED (`gone` false) or DELETED (`gone` true) of an object that does not decode as `T`.
    case undecodable(UndecodableObject)
}

extension WatchEvent: Decodable {
    private enum CodingKeys: String, CodingKey { case type, object }
    private struct Bookmark: Decodable { var metadata: ObjectMeta? }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let type = try c.decode(String.self, forKey: .type)
        switch type {
        case "ADDED", "MODIFIED", "DELETED":
            switch try c.decode(Lenient<T>.self, forKey: .object) {
            case .object(let o): self = type == "ADDED" ? .added(o) : type == "MODIFIED" ? .modified(o) : .deleted(o)
            case .undecodable(var u):
                u.gone = type == "DELETED"
                self = .undecodable(u)
            }
        case "BOOKMARK":
            let b = try c.decode(Bookmark.self, forKey: .object)
            self = .bookmark(resourceVersion: b.metadata?.resourceVersion ?? "")
        case "ERROR":
            self = .error(try c.decode(KubeStatus.self, forKey: .object))
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "unknown watch event type \"\(type)\"")
        }
    }
}

/// What a `ResourceWatch` delivers: each change once, in order.
public enum ResourceEvent<T: KubeResource>: Sendable {
    case added(T)
    case modified(T)
    /// The object's last known state.
    case deleted(T)
    /// The view is complete and equals this set of objects: sent after the first list and after each relist
    /// (a relist first sends the added/modified/deleted events that bring a consumer's view up to date).
    case synced([T])
    /// An object that does not decode as `T` (`gone` false): it is not in the view (an older state that
    /// decoded was delivered as `.deleted` first). With `gone` true: it was deleted, or no longer comes
    /// back undecodable from a relist (if it decodes now, `.added` follows).
    case undecodable(UndecodableObject)
}
