import BatchCore

/// Where a kind of object lives in the API: group, version, plural, namespaced.
public struct ResourceType: Sendable, Hashable, CustomStringConvertible {
    /// The API group; empty for the core group (`/api/v1`).
    public var group: String
    public var version: String
    /// The URL name (`deployments`).
    public var plural: String
    public var kind: String
    public var namespaced: Bool

    public init(group: String, version: String, plural: String, kind: String, namespaced: Bool = true) {
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
    }

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

/// A `XxxList`.
public struct KubeList<Item: KubeResource>: Sendable, Codable {
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ListMeta
    public var items: [Item]

    public init(metadata: ListMeta, items: [Item]) {
        self.metadata = metadata
        self.items = items
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        apiVersion = try c.decodeIfPresent(String.self, forKey: .apiVersion)
        kind = try c.decodeIfPresent(String.self, forKey: .kind)
        metadata = try c.decodeIfPresent(ListMeta.self, forKey: .metadata) ?? ListMeta()
        items = try c.decodeIfPresent([Item].self, forKey: .items) ?? []
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
