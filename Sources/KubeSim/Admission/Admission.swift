import BatchCore
import Foundation
import Synchronization

/// ValidatingAdmissionPolicies and their bindings, as stored, enforced on create and update (main resource and
/// subresources the rules name), after schema validation, as the API server's `ValidatingAdmissionPolicy` plugin
/// does (`staging/src/k8s.io/apiserver/pkg/admission/plugin/policy/validating/dispatcher.go`,
/// `.../policy/matching/matching.go`, `.../policy/generic/policy_dispatcher.go` for params). The CEL runs in
/// `CELEvaluator`; without one, a request that a binding matches is refused (fail closed).
///
/// Requests KubeSim makes itself (its deployment controller and kubelet) carry no user and are not admitted.
struct AdmissionContext {
    /// A policy with one of its bindings.
    struct Pair {
        var policy: JSONValue
        var binding: JSONValue
    }

    var pairs: [Pair]
    var namespaceObject: JSONValue?
    /// Resolved params per binding name (`nil`: the policy has no paramKind), or why they could not be resolved.
    var params: [String: Result<[JSONValue], ParamProblem>]

    enum ParamProblem: Error {
        /// Denied or allowed per `parameterNotFoundAction`.
        case notFound(deny: Bool)
        /// The binding or paramKind is misconfigured (failurePolicy decides).
        case misconfigured(String)
    }

    var isEmpty: Bool { pairs.isEmpty }
}

extension Simulator {
    /// Reads the policies, bindings, the namespace and the params a write in `namespace` may need (outside the
    /// store's lock, which the evaluation then runs under).
    func admissionContext(namespace: String, user: UserInfo?) -> AdmissionContext {
        guard user != nil else { return AdmissionContext(pairs: [], namespaceObject: nil, params: [:]) }
        let policies = store.list(ResourceType.validatingAdmissionPolicies.storageKey, namespace: nil).items
        let bindings = store.list(ResourceType.validatingAdmissionPolicyBindings.storageKey, namespace: nil).items
        var byName: [String: JSONValue] = [:]
        for p in policies { byName[p["metadata"]?["name"]?.stringValue ?? ""] = p }
        var pairs: [AdmissionContext.Pair] = []
        var params: [String: Result<[JSONValue], AdmissionContext.ParamProblem>] = [:]
        for b in bindings.sorted(by: { ($0["metadata"]?["name"]?.stringValue ?? "") < ($1["metadata"]?["name"]?.stringValue ?? "") }) {
            guard let policy = byName[b["spec"]?["policyName"]?.stringValue ?? ""] else { continue }
            pairs.append(.init(policy: policy, binding: b))
            if let paramKind = policy["spec"]?["paramKind"] {
                params[b["metadata"]?["name"]?.stringValue ?? ""] = resolveParams(paramKind, b["spec"]?["paramRef"], namespace: namespace)
            }
        }
        let ns = namespace.isEmpty ? nil : store.get(ResourceType.namespaces.storageKey, namespace: "", name: namespace)
        return AdmissionContext(pairs: pairs, namespaceObject: ns.map { view($0, as: .namespaces) }, params: params)
    }

    private func resolveParams(_ paramKind: JSONValue, _ paramRef: JSONValue?, namespace: String) -> Result<[JSONValue], AdmissionContext.ParamProblem> {
        let apiVersion = paramKind["apiVersion"]?.stringValue ?? ""
        let kind = paramKind["kind"]?.stringValue ?? ""
        guard let type = registry.all.first(where: { $0.apiVersion == apiVersion && $0.kind == kind }) else {
            return .failure(.misconfigured("failed to configure policy: failed to find resource referenced by paramKind: '\(apiVersion), Kind=\(kind)'"))
        }
        guard let paramRef else {
            return .failure(.misconfigured("failed to configure binding: paramRef is required when the policy has a paramKind"))
        }
        var ns = ""
        if type.namespaced {
            ns = paramRef["namespace"]?.stringValue ?? ""
            if ns.isEmpty { ns = namespace }
            if ns.isEmpty {
                return .failure(.misconfigured("failed to configure binding: cannot use a namespaced paramRef without a namespace for a cluster-scoped request"))
            }
        }
        let deny = (paramRef["parameterNotFoundAction"]?.stringValue ?? "Deny") != "Allow"
        var found: [JSONValue] = []
        if let name = paramRef["name"]?.stringValue, !name.isEmpty {
            if let p = store.get(type.storageKey, namespace: ns, name: name) { found = [view(p, as: type)] }
        } else if let selector = paramRef["selector"] {
            found = store.list(type.storageKey, namespace: type.namespaced ? ns : nil).items
                .filter { AdmissionMatching.selector(selector, matches: $0["metadata"]?["labels"]?.stringMap ?? [:]) }
                .map { view($0, as: type) }
        }
        return found.isEmpty ? .failure(.notFound(deny: deny)) : .success(found)
    }

    /// Enforces the matching policies on one write; throws the API server's refusal.
    /// - Parameters:
    ///   - operation: `CREATE` or `UPDATE`.
    ///   - object: the object as it would be stored; `oldObject`: before the write (UPDATE).
    func admit(_ context: AdmissionContext, type: ResourceType, subresource: String, operation: String, name: String,
               namespace: String, object: JSONValue, oldObject: JSONValue?, user: UserInfo?, warnings: inout [String]) throws {
        guard let user, !context.isEmpty else { return }
        let attributes = AdmissionMatching.Attributes(type: type, subresource: subresource, operation: operation, name: name,
                                                      object: object, oldObject: oldObject, namespaceObject: context.namespaceObject)
        for pair in context.pairs {
            guard AdmissionMatching.matches(pair.policy["spec"]?["matchConstraints"], attributes, constraints: true),
                  AdmissionMatching.matches(pair.binding["spec"]?["matchResources"], attributes, constraints: false) else { continue }
            let policyName = pair.policy["metadata"]?["name"]?.stringValue ?? ""
            let bindingName = pair.binding["metadata"]?["name"]?.stringValue ?? ""
            let actions = (pair.binding["spec"]?["validationActions"]?.arrayValue ?? []).compactMap(\.stringValue)
            let failClosed = (pair.policy["spec"]?["failurePolicy"]?.stringValue ?? "Fail") != "Ignore"
            func refuse(_ message: String, reason: String) throws {
                let text = "ValidatingAdmissionPolicy '\(policyName)' with binding '\(bindingName)' denied request: \(message)"
                if actions.contains("Warn") { warnings.append("Validation failed for ValidatingAdmissionPolicy '\(policyName)' with binding '\(bindingName)': \(message)") }
                guard actions.contains("Deny") else { return }
                throw AdmissionMatching.denial(text, reason: reason, type: type, name: name)
            }
            var paramSets: [JSONValue?] = [nil]
            switch context.params[bindingName] {
            case nil: break
            case .success(let found): paramSets = found
            case .failure(.notFound(let deny)):
                // As the API server words it (generic/policy_dispatcher.go wraps the param lookup's error), 422 Invalid.
                if deny { try refuse("failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction", reason: "") }
                continue
            case .failure(.misconfigured(let why)):
                if failClosed { try refuse(why, reason: "") }
                continue
            }
            guard let evaluator = celEvaluator else {
                let why = "ValidatingAdmissionPolicy '\(policyName)' with binding '\(bindingName)' cannot be evaluated: KubeSim has no CEL "
                    + "evaluator. Start kubesim with --cel-python PATH (a Python with cel-python, such as .venv-tools/bin/python; `make tools-venv`)."
                Self.warnOnce(why)
                throw APIError.internalError(why)
            }
            for params in paramSets {
                var request: JSONValue = [
                    "policy": pair.policy["spec"] ?? .emptyObject,
                    "request": AdmissionMatching.request(attributes, namespace: namespace, user: user),
                    "object": object, "oldObject": oldObject ?? .null,
                    "params": params ?? .null, "namespaceObject": context.namespaceObject ?? .null,
                ]
                request["policy"]?["failurePolicy"] = .string(failClosed ? "Fail" : "Ignore")
                let answer: JSONValue
                do { answer = try evaluator.evaluate(request) } catch {
                    let why = "ValidatingAdmissionPolicy '\(policyName)' could not be evaluated: \(error)"
                    Self.warnOnce(why)
                    throw APIError.internalError(why)
                }
                switch answer["result"]?.stringValue {
                case "allow": continue
                case "deny": try refuse(answer["message"]?.stringValue ?? "", reason: answer["reason"]?.stringValue ?? "")
                default:
                    throw APIError.internalError("ValidatingAdmissionPolicy '\(policyName)': the CEL helper failed: \(answer["message"]?.stringValue ?? answer.compactString)")
                }
            }
        }
    }

    private static let warned = Mutex<Set<String>>([])

    /// Writes a message to stderr once per text: a policy that cannot be enforced must be noticed.
    static func warnOnce(_ message: String) {
        guard warned.withLock({ $0.insert(message).inserted }) else { return }
        FileHandle.standardError.write(Data("kubesim: \(message)\n".utf8))
    }
}

/// Which requests a policy's `matchConstraints` or a binding's `matchResources` select, and the CEL `request`.
enum AdmissionMatching {
    struct Attributes {
        var type: ResourceType
        var subresource: String
        var operation: String
        var name: String
        var object: JSONValue
        var oldObject: JSONValue?
        var namespaceObject: JSONValue?
    }

    /// `matchResources`: resourceRules (and excludeResourceRules), namespaceSelector, objectSelector.
    /// An absent binding `matchResources`, or one without resourceRules, selects every resource the policy does.
    static func matches(_ match: JSONValue?, _ a: Attributes, constraints: Bool) -> Bool {
        guard let match else { return !constraints }
        let rules = match["resourceRules"]?.arrayValue ?? []
        if constraints || !rules.isEmpty {
            guard rules.contains(where: { rule($0, matches: a) }) else { return false }
        }
        if (match["excludeResourceRules"]?.arrayValue ?? []).contains(where: { rule($0, matches: a) }) { return false }
        if let selector = match["namespaceSelector"] {
            // Cluster-scoped objects other than namespaces are not subject to the namespace selector.
            if a.type.plural == "namespaces", a.type.group.isEmpty {
                guard Self.selector(selector, matches: a.object["metadata"]?["labels"]?.stringMap ?? [:]) else { return false }
            } else if a.type.namespaced {
                guard Self.selector(selector, matches: a.namespaceObject?["metadata"]?["labels"]?.stringMap ?? [:]) else { return false }
            }
        }
        if let selector = match["objectSelector"] {
            let new = Self.selector(selector, matches: a.object["metadata"]?["labels"]?.stringMap ?? [:])
            let old = a.oldObject.map { Self.selector(selector, matches: $0["metadata"]?["labels"]?.stringMap ?? [:]) } ?? false
            guard new || old else { return false }
        }
        return true
    }

    static func rule(_ rule: JSONValue, matches a: Attributes) -> Bool {
        func list(_ key: String) -> [String] { (rule[key]?.arrayValue ?? []).compactMap(\.stringValue) }
        func has(_ key: String, _ value: String) -> Bool { let l = list(key); return l.contains("*") || l.contains(value) }
        guard has("operations", a.operation), has("apiGroups", a.type.group), has("apiVersions", a.type.version) else { return false }
        let full = a.subresource.isEmpty ? a.type.plural : "\(a.type.plural)/\(a.subresource)"
        let resourceOK = list("resources").contains { r in
            r == full || r == "*/*" || (r == "*" && a.subresource.isEmpty)
                || (r.hasSuffix("/*") && r.dropLast(2) == a.type.plural && !a.subresource.isEmpty)
                || (r.hasPrefix("*/") && r.dropFirst(2) == a.subresource)
        }
        guard resourceOK else { return false }
        switch rule["scope"]?.stringValue ?? "*" {
        case "Namespaced": guard a.type.namespaced else { return false }
        case "Cluster": guard !a.type.namespaced else { return false }
        default: break
        }
        let names = list("resourceNames")
        return names.isEmpty || names.contains(a.name)
    }

    /// A `metav1.LabelSelector` (matchLabels, matchExpressions In/NotIn/Exists/DoesNotExist).
    static func selector(_ selector: JSONValue, matches labels: [String: String]) -> Bool {
        for (k, v) in selector["matchLabels"]?.stringMap ?? [:] where labels[k] != v { return false }
        for e in selector["matchExpressions"]?.arrayValue ?? [] {
            let key = e["key"]?.stringValue ?? ""
            let values = (e["values"]?.arrayValue ?? []).compactMap(\.stringValue)
            switch e["operator"]?.stringValue ?? "" {
            case "In": guard let v = labels[key], values.contains(v) else { return false }
            case "NotIn": if let v = labels[key], values.contains(v) { return false }
            case "Exists": guard labels[key] != nil else { return false }
            case "DoesNotExist": guard labels[key] == nil else { return false }
            default: return false
            }
        }
        return true
    }

    /// The CEL `request` variable (an `admission.k8s.io/v1` AdmissionRequest without the objects).
    static func request(_ a: Attributes, namespace: String, user: UserInfo) -> JSONValue {
        let kind: JSONValue = ["group": .string(a.type.group), "version": .string(a.type.version), "kind": .string(a.type.kind)]
        let resource: JSONValue = ["group": .string(a.type.group), "version": .string(a.type.version), "resource": .string(a.type.plural)]
        return [
            "uid": .string(UUID().uuidString.lowercased()), "kind": kind, "resource": resource, "subResource": .string(a.subresource),
            "requestKind": kind, "requestResource": resource, "requestSubResource": .string(a.subresource),
            "name": .string(a.name), "namespace": .string(namespace), "operation": .string(a.operation),
            "userInfo": ["username": .string(user.name), "uid": .string(user.uid), "groups": .array(user.groups.map(JSONValue.string))],
            "dryRun": false,
        ]
    }

    /// The refusal: `admission.NewForbidden` with the decision's reason and its code (`reasonToCode`: Forbidden 403,
    /// Unauthorized 401, RequestEntityTooLarge 413, otherwise Invalid 422), the message also as a cause.
    static func denial(_ message: String, reason: String, type: ResourceType, name: String) -> APIError {
        let reason = reason.isEmpty ? "Invalid" : reason
        let code = ["Forbidden": 403, "Unauthorized": 401, "RequestEntityTooLarge": 413][reason] ?? 422
        let resource = APIError.qualified(type.plural, type.group)
        let text = name.isEmpty ? "\(resource) is forbidden: \(message)" : "\(resource) \"\(name)\" is forbidden: \(message)"
        var details = APIError.details(name: name, group: type.group, kind: type.plural)
        details["causes"] = [["message": .string(message)]]
        return APIError(code: code, reason: reason, message: text, details: details)
    }
}
