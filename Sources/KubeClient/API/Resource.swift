import BatchCore
import MemberwiseInit

/// Where a kind of object lives in the API: group, version, plural, namespaced.
@MemberwiseInit(.public)
public struct ResourceType: Sendable, Hashable, CustomStringConvertible {
    /// The API group; empty for the core group (`/api/v1`).
    public var group: String
    public var version: String
    /// The URL name (`deployments`).
    public var plural: String
    public var kind: String
    public var namespaced: Bool = true

    /// `apps/v1`, or `v1` for the core group.
    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    /// `deployments.apps`, as kubectl names resources.
    public var description: String { group.isEmpty ? plural : "\(plural).\(group)" }

    /// The URL path of the collection, an object, or one of its subresources.
    public func path(namespace: String?, name: String? = nil, subresource: String? = nil) -> String {
        var p = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        if namespaced, let namespace { p += "/namespaces/\(KubeRequest.encode(namespace))" }
        p += "/\(plural)"
        if let name { p += "/\(KubeRequest.encode(name))" }
        if let subresource { p += "/\(subresource)" }
        return p
    }
}

/// A Kubernetes object type batchctl reads or writes.
public protocol KubeResource: Codable, Sendable {
    static var resourceType: ResourceType { get }
    var metadata: ObjectMeta { get set }
}

extension KubeResource {
    /// `namespace/name` (or `name` for cluster-scoped objects): the identity used by watch caches.
    public var key: String {
        if let ns = metadata.namespace, !ns.isEmpty { return "\(ns)/\(metadata.name ?? "")" }
        return metadata.name ?? ""
    }
}

/// `metadata` of a list.
public struct ListMeta: Sendable, Hashable, Codable {
    public var resourceVersion: String?
    /// Present when more pages remain.
    public var `continue`: String?
    public var remainingItemCount: Int64?

    public init(resourceVersion: String? = nil, continue next: String? = nil) {
        self.resourceVersion = resourceVersion
        self.continue = next
    }
}

/// An object the API server returned that does not decode as its Swift type (a field of the wrong type,
/// a value out of range): named, so it can be reported, and skipped, so the others are still used.
@MemberwiseInit(.public)
public struct UndecodableObject: Sendable, Hashable, CustomStringConvertible {
    /// `BatchQueue`, `Deployment`, ...
    public var kind: String
    public var namespace: String?
    /// Empty when even `metadata.name` is unreadable.
    public var name: String
    public var uid: String?
    public var resourceVersion: String?
    /// What does not decode, with the field's path.
    public var problem: String
    /// In a watch: the object is gone (deleted, or a relist no longer returns it undecodable).
    public var gone: Bool = false

    /// `namespace/name`, as `KubeResource.key`.
    public var key: String { namespace.map { $0.isEmpty ? name : "\($0)/\(name)" } ?? name }

    /// `BatchQueue court-listener/batch9: spec.maxReplicas: ...`.
    public var description: String { "\(kind) \(key.isEmpty ? "(no name)" : key): \(problem)" }
}

/// One list item or watch object: the typed object, or what is known about it when it does not decode.
enum Lenient<T: KubeResource>: Decodable {
    case object(T)
    case undecodable(UndecodableObject)

    private struct Identity: Decodable {
        struct Meta: Decodable {
            var name: String?
            var namespace: String?
            var uid: String?
            var resourceVersion: String?
        }
        var metadata: Meta?
    }

    init(from decoder: any Decoder) throws {
        do {
            self = .object(try T(from: decoder))
        } catch {
            let meta = (try? Identity(from: decoder))?.metadata
            self = .undecodable(UndecodableObject(kind: T.resourceType.kind, namespace: meta?.namespace,
                                                  name: String((meta?.name ?? "").prefix(253)), uid: meta?.uid, resourceVersion: meta?.resourceVersion,
                                                  problem: String(KubeClient.describe(error, droppingFirst: decoder.codingPath.count).prefix(512))))
        }
    }
}

/// A `XxxList`.
public struct KubeList<Item: KubeResource>: Sendable, Codable {
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ListMeta
    public var items: [Item]
    /// Items that did not decode as `Item` (not in `items`): one bad object does not fail the list.
    public var skipped: [UndecodableObject] = []

    enum CodingKeys: String, CodingKey { case apiVersion, kind, metadata, items }

    public init(metadata: ListMeta, items: [Item], skipped: [UndecodableObject] = []) {
        self.metadata = metadata
        self.items = items
        self.skipped = skipped
    }

    public init(from decoder: any Decoder) throws {
        (apiVersion, kind, metadata) = try ObjectHeader.decode(from: decoder, emptyMetadata: ListMeta())
        let c = try decoder.container(keyedBy: CodingKeys.self)
        var items: [Item] = []
        var skipped: [UndecodableObject] = []
        for entry in try c.decodeIfPresent([Lenient<Item>].self, forKey: .items) ?? [] {
            switch entry {
            case .object(let o): items.append(o)
            case .undecodable(let u): skipped.append(u)
            }
        }
        self.items = items
        self.skipped = skipped
    }
}

/// A label selector as in Deployments (`matchLabels` only; `matchExpressions` kept opaque).
public struct LabelSelector: Sendable, Hashable, Codable {
    public var matchLabels: [String: String]?
    public var matchExpressions: [JSONValue]?

    public init(matchLabels: [String: String]? = nil) { self.matchLabels = matchLabels }

    /// `a=b,c=d`, for `labelSelector=` queries (matchLabels only).
    public var queryString: String {
        (matchLabels ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }
}

extension BatchQueue: KubeResource {
    /// `batchqueues.batchctl.dev/v1alpha1`, namespaced.
    public static let resourceType = ResourceType(group: "batchctl.dev", version: "v1alpha1", plural: "batchqueues", kind: "BatchQueue")
}

extension BatchQueuePolicy: KubeResource {
    /// `batchqueuepolicies.batchctl.dev/v1alpha1`, namespaced.
    public static let resourceType = ResourceType(group: "batchctl.dev", version: "v1alpha1", plural: "batchqueuepolicies", kind: "BatchQueuePolicy")
}
