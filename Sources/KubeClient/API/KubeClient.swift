import BatchCore
import FoundationEssentials
import MemberwiseInit

/// Typed, async calls to the Kubernetes API for what batchctl uses. A value type over a shared `KubeTransport`;
/// every call runs its blocking transfer on the transport's threads.
@MemberwiseInit(.public)
public struct KubeClient: Sendable {
    public let transport: KubeTransport

    /// The default namespace (`-n`, the context's, the service account's, or `default`).
    public var namespace: String { transport.config.namespace }

    /// A client for `config`.
    public init(config: ClusterConfig, retryPolicy: RetryPolicy = .standard, requestTimeout: Duration = .seconds(60),
                warn: @escaping @Sendable (String) -> Void = KubeConfigOptions.warnToStandardError) {
        transport = KubeTransport(config: config, retryPolicy: retryPolicy, requestTimeout: requestTimeout, warn: warn)
    }

    /// Loads the configuration like kubectl (see `ClusterConfig.load`) and makes a client.
    public static func load(_ options: KubeConfigOptions = KubeConfigOptions(), retryPolicy: RetryPolicy = .standard) throws(KubeconfigError) -> KubeClient {
        KubeClient(config: try ClusterConfig.load(options), retryPolicy: retryPolicy, warn: options.warn)
    }

    static let mergePatch = "application/merge-patch+json"

    // MARK: generic calls

    /// GET one object.
    public func get<T: KubeResource>(_ type: T.Type, _ name: String, namespace: String? = nil) async throws -> T {
        let path = T.resourceType.path(namespace: namespace ?? self.namespace, name: name)
        return try decode(T.self, try await transport.send(KubeRequest(method: .get, path: path)))
    }

    /// LIST objects, following `continue` pages.
    /// - Parameters:
    ///   - resourceVersion: nil for a consistent read, `"0"` for any cached state.
    public func list<T: KubeResource>(_ type: T.Type, namespace: String? = nil, labelSelector: String? = nil,
                                      fieldSelector: String? = nil, resourceVersion: String? = nil,
                                      pageSize: Int = 500) async throws -> KubeList<T> {
        let path = T.resourceType.path(namespace: namespace ?? self.namespace)
        var items: [T] = []
        var skipped: [UndecodableObject] = []
        var next: String?
        var meta = ListMeta()
        for _ in 0..<10_000 {
            var query: [(String, String)] = [("limit", String(pageSize))]
            if let labelSelector, !labelSelector.isEmpty { query.append(("labelSelector", labelSelector)) }
            if let fieldSelector, !fieldSelector.isEmpty { query.append(("fieldSelector", fieldSelector)) }
            if let next { query.append(("continue", next)) } else if let resourceVersion { query.append(("resourceVersion", resourceVersion)) }
            let page = try decode(KubeList<T>.self, try await transport.send(KubeRequest(method: .get, path: path, query: query)))
            items += page.items
            skipped += page.skipped
            if next == nil { meta = page.metadata }
            guard let c = page.metadata.continue, !c.isEmpty else { break }
            next = c
        }
        meta.continue = nil
        return KubeList(metadata: meta, items: items, skipped: skipped)
    }

    /// POST a new object into its namespace (`metadata.namespace`, else the client's). A create with a fixed
    /// name is retried after failures (a duplicate would answer 409 AlreadyExists, never create twice) only if
    /// `retryable` is set.
    public func create<T: KubeResource>(_ object: T, namespace: String? = nil, retryable: Bool = false) async throws -> T {
        let ns = namespace ?? object.metadata.namespace ?? self.namespace
        let path = T.resourceType.path(namespace: ns)
        let body = try encode(object)
        let req = KubeRequest(method: .post, path: path, body: body, contentType: "application/json", isRetryable: retryable)
        return try decode(T.self, try await transport.send(req))
    }

    /// PUT the whole object (optionally to a subresource). Requires `metadata.resourceVersion`, which makes it
    /// a precondition (stale → `KubeError.conflict`) and lets the request be retried safely.
    /// Fields the Swift type does not model are dropped by a PUT: prefer `update(_:from:)` for objects with
    /// fields batchctl does not know.
    public func replace<T: KubeResource>(_ object: T, subresource: String? = nil) async throws -> T {
        guard let name = object.metadata.name, let rv = object.metadata.resourceVersion, !rv.isEmpty else {
            throw KubeError.invalid(KubeStatus(code: 0, reason: "Invalid", message:
                "replace needs metadata.name and metadata.resourceVersion (read the object first)"))
        }
        let path = T.resourceType.path(namespace: object.metadata.namespace ?? namespace, name: name, subresource: subresource)
        let req = KubeRequest(method: .put, path: path, body: try encode(object), contentType: "application/json", isRetryable: true)
        return try decode(T.self, try await transport.send(req))
    }

    /// Applies a JSON merge patch (RFC 7386) to an object or subresource. With `resourceVersion` the patch is a
    /// precondition (stale → `KubeError.conflict`) and is retried after transient failures; without it the patch
    /// is last-writer-wins and never resent after a failure that may have reached the server.
    public func patch<T: KubeResource>(_ type: T.Type, _ name: String, namespace: String? = nil, subresource: String? = nil,
                                       mergePatch: JSONValue, resourceVersion: String? = nil) async throws -> T {
        let path = T.resourceType.path(namespace: namespace ?? self.namespace, name: name, subresource: subresource)
        let body = MergePatch.withPrecondition(mergePatch, resourceVersion: resourceVersion)
        let req = KubeRequest(method: .patch, path: path, body: try encode(body), contentType: Self.mergePatch,
                              isRetryable: resourceVersion.map { !$0.isEmpty } ?? false)
        return try decode(T.self, try await transport.send(req))
    }

    /// Writes the changes from `old` to `new` as a merge patch with `old`'s resourceVersion as precondition:
    /// fields the Swift type does not model are never touched, and a concurrent write surfaces as
    /// `KubeError.conflict`. Pass `subresource: "status"` to write status.
    /// - Returns: the object as stored (or `old` re-read when nothing changed).
    public func update<T: KubeResource>(_ new: T, from old: T, subresource: String? = nil) async throws -> T {
        guard let name = old.metadata.name else {
            throw KubeError.invalid(KubeStatus(code: 0, reason: "Invalid", message: "update needs metadata.name"))
        }
        var a = try MergePatch.json(old)
        var b = try MergePatch.json(new)
        // resourceVersion is the precondition, not a change; status and spec go to their own endpoints.
        a = Self.strippingVolatile(a, subresource: subresource)
        b = Self.strippingVolatile(b, subresource: subresource)
        let change = MergePatch.diff(from: a, to: b) ?? .object([:])
        return try await patch(T.self, name, namespace: old.metadata.namespace ?? namespace, subresource: subresource,
                               mergePatch: change, resourceVersion: old.metadata.resourceVersion)
    }

    static func strippingVolatile(_ v: JSONValue, subresource: String?) -> JSONValue {
        guard case .object(var o) = v else { return v }
        if case .object(var m)? = o["metadata"] {
            for k in ["resourceVersion", "generation", "uid", "creationTimestamp", "managedFields"] { m[k] = nil }
            o["metadata"] = .object(m)
        }
        if subresource == "status" {
            o = o.filter { $0.key == "status" || $0.key == "metadata" }
        } else {
            o["status"] = nil
        }
        return .object(o)
    }

    /// DELETE an object.
    public func delete<T: KubeResource>(_ type: T.Type, _ name: String, namespace: String? = nil) async throws {
        let path = T.resourceType.path(namespace: namespace ?? self.namespace, name: name)
        _ = try await transport.send(KubeRequest(method: .delete, path: path, isRetryable: true))
    }

    // MARK: Deployments and /scale

    /// GETs a Deployment.
    public func deployment(_ name: String, namespace: String? = nil) async throws -> Deployment {
        try await get(Deployment.self, name, namespace: namespace)
    }

    /// LISTs Deployments, optionally by label selector (`app=web`).
    public func deployments(namespace: String? = nil, labelSelector: String? = nil) async throws -> KubeList<Deployment> {
        try await list(Deployment.self, namespace: namespace, labelSelector: labelSelector)
    }

    /// `GET deployments/{name}/scale`.
    public func scale(ofDeployment name: String, namespace: String? = nil) async throws -> Scale {
        let path = Deployment.resourceType.path(namespace: namespace ?? self.namespace, name: name, subresource: "scale")
        return try decode(Scale.self, try await transport.send(KubeRequest(method: .get, path: path)))
    }

    /// Sets `spec.replicas` through `deployments/{name}/scale` with a merge patch. Pass the resourceVersion read
    /// with the Scale (or Deployment) to make the write conditional: if someone wrote in between, this throws
    /// `KubeError.conflict` and nothing changes.
    public func setScale(ofDeployment name: String, replicas: Int, resourceVersion: String?,
                         namespace: String? = nil) async throws -> Scale {
        let path = Deployment.resourceType.path(namespace: namespace ?? self.namespace, name: name, subresource: "scale")
        let body = MergePatch.withPrecondition(.object(["spec": .object(["replicas": .int(Int64(replicas))])]),
                                               resourceVersion: resourceVersion)
        let req = KubeRequest(method: .patch, path: path, body: try encode(body), contentType: Self.mergePatch,
                              isRetryable: resourceVersion.map { !$0.isEmpty } ?? false)
        return try decode(Scale.self, try await transport.send(req))
    }

    // MARK: BatchQueues

    /// GETs a BatchQueue.
    public func batchQueue(_ name: String, namespace: String? = nil) async throws -> BatchQueue {
        try await get(BatchQueue.self, name, namespace: namespace)
    }

    /// LISTs BatchQueues.
    public func batchQueues(namespace: String? = nil) async throws -> KubeList<BatchQueue> {
        try await list(BatchQueue.self, namespace: namespace)
    }

    /// Creates a BatchQueue (409 `AlreadyExists` as `KubeError.conflict` if the name is taken).
    public func createBatchQueue(_ queue: BatchQueue) async throws -> BatchQueue {
        try await create(queue)
    }

    /// Writes spec/metadata changes (a claim, a release) conditionally on `old`'s resourceVersion.
    public func updateBatchQueue(_ new: BatchQueue, from old: BatchQueue) async throws -> BatchQueue {
        try await update(new, from: old)
    }

    /// Writes status changes through `/status`, conditionally on `old`'s resourceVersion.
    public func updateBatchQueueStatus(_ new: BatchQueue, from old: BatchQueue) async throws -> BatchQueue {
        try await update(new, from: old, subresource: "status")
    }

    /// The rules of `namespace`'s BatchQueues: the `QueuePolicy` of its BatchQueuePolicy `default`, or nil when
    /// there is none (or the BatchQueuePolicy resource is not installed), meaning the embedded defaults.
    /// - Throws: `ConfigError` when the object exists but breaks a rule; `KubeError` for other API failures.
    public func queuePolicy(namespace: String? = nil) async throws -> QueuePolicy? {
        let object: BatchQueuePolicy
        do {
            object = try await get(BatchQueuePolicy.self, BatchQueuePolicy.defaultName, namespace: namespace)
        } catch let error as KubeError where error.isNotFound {
            return nil
        }
        return try object.policy()
    }

    // MARK: Pods

    /// LISTs Pods, optionally by label selector.
    public func pods(namespace: String? = nil, labelSelector: String? = nil) async throws -> KubeList<Pod> {
        try await list(Pod.self, namespace: namespace, labelSelector: labelSelector)
    }

    /// Sets (or, with nil, removes) annotations on a pod, such as `controller.kubernetes.io/pod-deletion-cost`.
    public func annotatePod(_ name: String, _ annotations: [String: String?], namespace: String? = nil) async throws -> Pod {
        let values = annotations.mapValues { v -> JSONValue in v.map(JSONValue.string) ?? .null }
        return try await patch(Pod.self, name, namespace: namespace,
                               mergePatch: .object(["metadata": .object(["annotations": .object(values)])]))
    }

    // MARK: Events, Leases, identity

    /// Creates an `events.k8s.io/v1` Event. Events carry a client-chosen name, so a retry after a lost answer
    /// cannot record the event twice (it would get 409 AlreadyExists).
    public func createEvent(_ event: Event) async throws -> Event {
        try await create(event, retryable: event.metadata.name.map { !$0.isEmpty } ?? false)
    }

    /// GETs a Lease.
    public func lease(_ name: String, namespace: String? = nil) async throws -> Lease {
        try await get(Lease.self, name, namespace: namespace)
    }

    /// Creates a Lease (409 if another candidate created it first).
    public func createLease(_ lease: Lease) async throws -> Lease {
        try await create(lease)
    }

    /// PUTs the Lease with its resourceVersion (leader election's renew and take-over); 409 means another
    /// candidate wrote first.
    public func updateLease(_ lease: Lease) async throws -> Lease {
        try await replace(lease)
    }

    /// Who the API server says this client is (`POST selfsubjectreviews`, as `kubectl auth whoami`).
    public func whoAmI() async throws -> UserInfo {
        let req = KubeRequest(method: .post, path: "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                              body: try encode(SelfSubjectReview()), contentType: "application/json", isRetryable: true)
        let review = try decode(SelfSubjectReview.self, try await transport.send(req))
        guard let user = review.status?.userInfo else {
            throw KubeError.decoding(message: "\(transport.serverHost): the SelfSubjectReview answer has no status.userInfo")
        }
        return user
    }

    // MARK: coding

    func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        Array(try JSONEncoder().encode(value))
    }

    func decode<T: Decodable>(_ type: T.Type, _ response: KubeResponse) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(response.body))
        } catch {
            throw KubeError.decoding(message: "\(transport.serverHost): cannot decode the answer as \(T.self): \(Self.describe(error))")
        }
    }

    /// A decoding error as `.path.to.field: what is wrong`; `droppingFirst` leaves out the leading keys
    /// (the path of the object inside its list or watch event).
    static func describe(_ error: any Error, droppingFirst: Int = 0) -> String {
        guard let e = error as? DecodingError else { return "\(error)" }
        func path(_ c: [any CodingKey]) -> String { c.dropFirst(droppingFirst).map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined() }
        switch e {
        case .keyNotFound(let k, let ctx): return "\(path(ctx.codingPath + [k])) is missing"
        case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx), .dataCorrupted(let ctx):
            return "\(path(ctx.codingPath)): \(ctx.debugDescription)"
        @unknown default: return "\(e)"
        }
    }
}
