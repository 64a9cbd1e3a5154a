import BatchCore
import Foundation
import Synchronization

/// The emulated API server, independent of the HTTP transport: `handle(_:)` turns an `APIRequest` into an
/// `APIResponse`. `KubeSimServer` puts it behind HTTPS; unit tests call it directly.
public final class Simulator: Sendable {
    /// Tunables.
    public struct Configuration: Sendable {
        /// Changes kept for watches; older `resourceVersion`s get 410 Expired.
        public var watchHistory = 10_000
        /// How often an idle watch that asked for bookmarks gets one.
        public var bookmarkInterval: Duration = .seconds(1)
        /// How long the built-in deployment controller waits before publishing status.
        public var controllerDelay: Duration = .milliseconds(200)
        /// The address advertised in `/api`'s `serverAddressByClientCIDRs`.
        public var advertisedAddress = "127.0.0.1:6443"
        /// Namespaces created at start.
        public var namespaces = ["default", "kube-system", "kube-public"]
        /// Whether the kubelet manages Deployments with a command annotation (the controller skips those).
        public var kubeletEnabled = false
        /// Where kubelet pods write their output (`<dir>/<pod>.log`), served by `pods/<name>/log`.
        public var podLogDirectory: String?
        /// A Python with cel-python that evaluates ValidatingAdmissionPolicies (`--cel-python`); without it a
        /// write that a policy binding matches is refused.
        public var celPython: String?
        /// Defaults.
        public init() {}
    }

    /// Tunables.
    public let configuration: Configuration
    /// Every object.
    public let store: ObjectStore
    /// Served resource types.
    public let registry = Registry()
    /// Token and certificate users.
    public let authenticator: Authenticator
    /// Who may do what.
    public let authorizer: Authorizer
    /// Injected faults.
    public let faults: FaultInjector
    /// Evaluates admission policies' CEL (nil: none configured, policies that match fail closed).
    let celEvaluator: CELEvaluator?
    /// Every request answered.
    public let requestLog = RequestLog()
    let connections = Atomic<Int>(0)
    let requestCount = Atomic<Int>(0)
    let shutDownFlag = Atomic<Bool>(false)
    /// Whether `shutdown()` was called.
    public var isShutDown: Bool { shutDownFlag.load(ordering: .relaxed) }
    /// Notified after every deployment write (the controller and kubelet listen).
    let deploymentChanges: AsyncStream<ObjectRef>
    let deploymentChangesContinuation: AsyncStream<ObjectRef>.Continuation

    /// Creates a simulator.
    public init(configuration: Configuration = Configuration(), users: [UserAccount], authorizer: Authorizer = .allowAll,
                faults: [FaultRule] = []) {
        self.configuration = configuration
        store = ObjectStore(historyLimit: configuration.watchHistory)
        authenticator = Authenticator(users: users)
        self.authorizer = authorizer
        self.faults = FaultInjector(rules: faults)
        celEvaluator = configuration.celPython.map { CELEvaluator(python: $0) }
        (deploymentChanges, deploymentChangesContinuation) = AsyncStream<ObjectRef>.makeStream(bufferingPolicy: .unbounded)
        for ns in configuration.namespaces { ensureNamespace(ns) }
    }

    /// Counts an accepted TCP connection (`/kubesim/stats`).
    public func connectionAccepted() { connections.add(1, ordering: .relaxed) }

    /// The stored objects of a resource in a namespace, read directly (no request, no log entry): for an
    /// observer in the same process, such as `kubesim demo`'s live table.
    /// - Parameters:
    ///   - group: the API group (empty for core resources such as pods).
    ///   - resource: the plural resource name, such as `deployments` or `batchqueues`.
    public func objects(group: String, resource: String, namespace: String) -> [JSONValue] {
        let key = ResourceType(group: group, version: "", plural: resource, singular: "", kind: "", namespaced: true).storageKey
        return store.list(key, namespace: namespace).items
    }

    /// Creates a namespace if it does not exist.
    public func ensureNamespace(_ name: String) {
        _ = try? store.transact(ResourceType.namespaces.storageKey, namespace: "", name: name) { current in
            if current != nil { return .none }
            return .put(Self.newMetadata(["apiVersion": "v1", "kind": "Namespace",
                                          "metadata": ["name": .string(name), "labels": ["kubernetes.io/metadata.name": .string(name)]],
                                          "spec": ["finalizers": ["kubernetes"]], "status": ["phase": "Active"]], generation: false))
        }
    }

    /// Fills uid and creationTimestamp (and generation 1).
    static func newMetadata(_ object: JSONValue, generation: Bool) -> JSONValue {
        var o = object
        o[path: ["metadata", "uid"]] = .string(UUID().uuidString.lowercased())
        o[path: ["metadata", "creationTimestamp"]] = .string(Timestamps.rfc3339())
        if generation { o[path: ["metadata", "generation"]] = 1 }
        return o
    }

    /// Handles one request: authentication, faults, authorization, dispatch, logging.
    public func handle(_ incoming: APIRequest, clientCertificateUser: UserInfo? = nil) async -> APIResponse {
        var request = incoming
        requestCount.add(1, ordering: .relaxed)
        let info = RequestInfo(method: request.method, path: request.path, watch: request.flag("watch"))
        let started = Date()
        let response: APIResponse
        if let user = authenticator.authenticate(authorization: request.headers["authorization"]) ?? clientCertificateUser {
            request.user = user
            response = await authorizedHandle(request, info: info, user: user)
        } else if ["/version", "/healthz", "/livez", "/readyz"].contains(request.path) {
            response = await route(request, info: info)
        } else {
            response = .error(.unauthorized)
        }
        if !request.path.hasPrefix("/kubesim/") {
            requestLog.append(request: request, info: info, status: response.status,
                              contentType: response.headers.first { $0.0.lowercased() == "content-type" }?.1 ?? "", at: started)
        }
        return response
    }

    private func authorizedHandle(_ request: APIRequest, info: RequestInfo, user: UserInfo) async -> APIResponse {
        if request.path.hasPrefix("/kubesim/") {
            guard user.isAdmin else { return .error(.forbiddenPath(user: user.name, verb: info.verb, path: request.path)) }
            return await handleControl(request)
        }
        if let fault = faults.match(method: request.method, verb: info.verb, path: request.path, user: user.name) {
            // The delay is the server's: a client that gives up does not shorten it, so a delayed write is
            // still applied (or refused as a conflict) when it ends, as a slow API server would.
            let delay = fault.latencyMilliseconds
            if delay > 0 { await Task { try? await Task.sleep(for: .milliseconds(delay)) }.value }
            if let response = fault.response() { return response }
        }
        // list/watch restricted by resourceNames are authorized by the fieldSelector's metadata.name.
        var authorizationInfo = info
        if ["list", "watch"].contains(info.verb), info.name.isEmpty,
           let pinned = (try? FieldSelector(parsing: request.query["fieldSelector"] ?? ""))?.pinnedName {
            authorizationInfo.name = pinned
        }
        guard authorizer.allows(user, authorizationInfo) || storedRBACAllows(user, authorizationInfo) else {
            if info.isResource {
                return .error(.forbidden(user: user.name, verb: info.verb, resource: info.resource, subresource: info.subresource,
                                         group: info.group, namespace: info.namespace, name: info.name))
            }
            return .error(.forbiddenPath(user: user.name, verb: info.verb, path: request.path))
        }
        return await route(request, info: info)
    }

    /// Whether the Roles and RoleBindings stored through the API grant the request. RBAC is additive: these
    /// add to the `--rbac` file's grants, as objects a cluster admin applies (deploy/examples/queue-batch4.yaml's
    /// Role for one more Deployment) take effect on a real API server. Only consulted when the file's grants
    /// refuse, and only when a policy is enforced at all.
    func storedRBACAllows(_ user: UserInfo, _ info: RequestInfo) -> Bool {
        guard authorizer.enforcing else { return false }
        let documents = [ResourceType.roles, ResourceType.roleBindings].flatMap { store.list($0.storageKey, namespace: nil).items }
        guard !documents.isEmpty else { return false }
        return Authorizer(storedDocuments: documents).allows(user, info)
    }

    /// Dispatches an authorized request.
    func route(_ request: APIRequest, info: RequestInfo) async -> APIResponse {
        do {
            if let discovery = try discoveryResponse(request) { return discovery }
            guard info.isResource else { return .error(.pathNotFound()) }
            guard let type = registry.lookup(group: info.group, version: info.version, plural: info.resource) else {
                return .error(.pathNotFound())
            }
            if type.namespaced == false, !info.namespace.isEmpty { return .error(.pathNotFound()) }
            return try await dispatch(request, info: info, type: type)
        } catch let error as APIError {
            return .error(error)
        } catch {
            return .error(.internalError("\(error)"))
        }
    }

    private func dispatch(_ request: APIRequest, info: RequestInfo, type: ResourceType) async throws -> APIResponse {
        if request.method == "HEAD" { return APIResponse(status: 200, headers: [], body: .bytes([])) }
        if type.plural == "selfsubjectreviews" {
            guard info.verb == "create" else { throw APIError.methodNotAllowed() }
            return selfSubjectReview(request)
        }
        let validation = Pruning.FieldValidation(request)
        func written(_ object: JSONValue, status: Int = 200) -> APIResponse {
            var response = APIResponse.json(object, status: status)
            for w in validation.warnings { response.headers.append(("Warning", "299 - \"\(w.replacingOccurrences(of: "\"", with: "\\\""))\"")) }
            return response
        }
        if ["update", "patch"].contains(info.verb), info.name.isEmpty { throw APIError.methodNotAllowed() }
        switch info.subresource {
        case "":
            switch info.verb {
            case "get":
                let object = try getObject(type, info)
                if Tables.wanted(request) {
                    return .json(Tables.table(for: type, objects: [object], resourceVersion: store.currentResourceVersion,
                                                  includeObject: request.query["includeObject"] ?? "Metadata"))
                }
                return .json(object)
            case "list":
                try await waitForResourceVersion(request)
                return try listObjects(request, type, info)
            case "watch": return try watchObjects(request, type, info)
            case "create": return written(try createObject(request, type, info, validation: validation), status: 201)
            case "update": return written(try updateObject(request, type, info, validation: validation))
            case "patch":
                let patched = try patchObject(request, type, info, validation: validation)
                return written(patched, status: validation.created ? 201 : 200)
            case "delete": return try deleteObject(request, type, info)
            case "deletecollection": return try deleteCollection(request, type, info)
            default: throw APIError.methodNotAllowed()
            }
        case "status" where type.statusSubresource:
            switch info.verb {
            case "get": return .json(try getObject(type, info))
            case "update": return written(try updateObject(request, type, info, validation: validation))
            case "patch": return written(try patchObject(request, type, info, validation: validation))
            default: throw APIError.methodNotAllowed()
            }
        case "log" where type.plural == "pods" && type.group.isEmpty && info.verb == "get":
            _ = try currentObject(type, info)
            let path = configuration.podLogDirectory.map { "\($0)/\(info.name).log" }
            var text = path.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? ""
            if let tail = Int(request.query["tailLines"] ?? ""), tail >= 0 {
                text = text.split(separator: "\n", omittingEmptySubsequences: false).suffix(tail + (text.hasSuffix("\n") ? 1 : 0)).joined(separator: "\n")
            }
            return .text(text, status: 200)
        case "scale" where type.scale != nil:
            switch info.verb {
            case "get": return .json(try getScale(type, info))
            case "update", "patch": return .json(try writeScale(request, type, info))
            default: throw APIError.methodNotAllowed()
            }
        default:
            return .error(.pathNotFound())
        }
    }

    /// A list asking for a resourceVersion newer than the store's waits up to 3 s for it, then fails with
    /// 504 `Too large resource version` (as the watch cache does).
    func waitForResourceVersion(_ request: APIRequest) async throws {
        guard let text = request.query["resourceVersion"], !text.isEmpty, text != "0" else { return }
        guard let wanted = Int64(text) else { throw APIError.badRequest("invalid resource version: \(text)") }
        if request.query["resourceVersionMatch"] == "Exact" { return }
        let deadline = ContinuousClock.now + .seconds(3)
        while store.currentResourceVersion < wanted {
            guard ContinuousClock.now < deadline else {
                throw APIError(code: 504, reason: "Timeout",
                               message: "Timeout: Too large resource version: \(wanted), current: \(store.currentResourceVersion)",
                               details: ["causes": [["reason": "ResourceVersionTooLarge", "message": "Too large resource version"]]],
                               retryAfterSeconds: 1)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Ends open watches (server shutdown).
    public func shutdown() {
        shutDownFlag.store(true, ordering: .relaxed)
        store.finishAllWatches()
        deploymentChangesContinuation.finish()
        celEvaluator?.shutdown()
    }
}

/// namespace/name of an object.
public struct ObjectRef: Sendable, Hashable {
    /// Namespace (empty for cluster-scoped objects).
    public var namespace: String
    /// Object name.
    public var name: String
}
