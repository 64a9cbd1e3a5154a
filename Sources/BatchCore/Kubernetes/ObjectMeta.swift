/// The part of Kubernetes `metadata` batchctl reads and writes.
///
/// Fields left nil are omitted when encoding, so the type is safe to use inside merge patches.

import MemberwiseInit

@MemberwiseInit(.public)
public struct ObjectMeta: Sendable, Hashable, Codable {
    public var name: String?
    public var namespace: String?
    public var uid: String?
    /// Opaque: compare for equality only, never order or parse it.
    public var resourceVersion: String?
    public var generation: Int64?
    public var creationTimestamp: KubeTime?
    public var deletionTimestamp: KubeTime?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var ownerReferences: [OwnerReference]?
}

/// `metadata.ownerReferences[]`.
@MemberwiseInit(.public)
public struct OwnerReference: Sendable, Hashable, Codable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    public var controller: Bool?
    public var blockOwnerDeletion: Bool?
}
