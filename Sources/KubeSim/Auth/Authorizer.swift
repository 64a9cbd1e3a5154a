import BatchCore
import Foundation
import MemberwiseInit

/// One RBAC `PolicyRule`.
@MemberwiseInit(.public)
public struct PolicyRule: Sendable, Equatable {
    /// API groups (`""` core, `*` any).
    public var apiGroups: [String] = []
    /// Resources, `resource/subresource`, `*`.
    public var resources: [String] = []
    /// Verbs (`*` any).
    public var verbs: [String]
    /// Object names (empty: any).
    public var resourceNames: [String] = []
    /// Non-resource paths (`/healthz`, `/api/*`).
    public var nonResourceURLs: [String] = []

    init(json: JSONValue) {
        func strings(_ key: String) -> [String] { (json[key]?.arrayValue ?? []).compactMap(\.stringValue) }
        self.init(apiGroups: strings("apiGroups"), resources: strings("resources"), verbs: strings("verbs"),
                  resourceNames: strings("resourceNames"), nonResourceURLs: strings("nonResourceURLs"))
    }

    /// Whether this rule allows the resource request (RBAC semantics, `*` wildcards).
    func allows(_ info: RequestInfo) -> Bool {
        guard verbs.contains("*") || verbs.contains(info.verb) else { return false }
        guard apiGroups.contains("*") || apiGroups.contains(info.group) else { return false }
        let full = info.fullResource
        let resourceOK = resources.contains { r in
            r == "*" || r == full || (info.subresource.isEmpty && r == info.resource)
                || (r.hasPrefix("*/") && r.dropFirst(2) == info.subresource)
                || (r.hasSuffix("/*") && r.dropLast(2) == info.resource && !info.subresource.isEmpty)
        }
        guard resourceOK else { return false }
        if resourceNames.isEmpty { return true }
        return !info.name.isEmpty && resourceNames.contains(info.name)
    }

    func allowsPath(_ path: String, verb: String) -> Bool {
        guard verbs.contains("*") || verbs.contains(verb) else { return false }
        return nonResourceURLs.contains { u in u == "*" || u == path || (u.hasSuffix("*") && path.hasPrefix(String(u.dropLast()))) }
    }
}

/// RBAC-style authorizer. With no policy every authenticated user may do anything; with a policy
/// (Kubernetes Role/ClusterRole/RoleBinding/ClusterRoleBinding documents, YAML or JSON) only what the
/// bindings grant. `system:masters` always passes.
@MemberwiseInit
public struct Authorizer: Sendable {
    struct Grant: Sendable {
        var namespace: String?   // nil: cluster-wide
        var subjects: [JSONValue]
        var rules: [PolicyRule]
    }

    /// Whether any policy was loaded.
    public let enforcing: Bool
    let grants: [Grant]

    /// Allows everything (no policy).
    public static let allowAll = Authorizer(enforcing: false, grants: [])

    /// Builds an authorizer from Kubernetes RBAC documents.
    public init(documents: [JSONValue]) throws {
        self.init(enforcing: true, grants: try Self.grants(documents, strict: true))
    }

    /// The grants of RBAC objects stored through the API, as the API server's RBAC authorizer reads them
    /// (plugin/pkg/auth/authorizer/rbac/rbac.go, VisitRulesFor): a binding whose role does not exist grants
    /// nothing, and is no error.
    init(storedDocuments: [JSONValue]) {
        self.init(enforcing: true, grants: (try? Self.grants(storedDocuments, strict: false)) ?? [])
    }

    /// The grants of `documents`; `strict`: a binding to a missing role is an error (a policy file's typo).
    static func grants(_ documents: [JSONValue], strict: Bool) throws -> [Grant] {
        var roles: [String: [PolicyRule]] = [:]        // "ns/name" or "/name" for ClusterRoles
        var bindings: [(namespace: String?, subjects: [JSONValue], roleKey: String)] = []
        var flat: [JSONValue] = []
        for d in documents {
            if d["kind"]?.stringValue == "List" { flat += d["items"]?.arrayValue ?? [] } else { flat.append(d) }
        }
        for d in flat {
            let kind = d["kind"]?.stringValue ?? ""
            let name = d["metadata"]?["name"]?.stringValue ?? ""
            let ns = d["metadata"]?["namespace"]?.stringValue ?? "default"
            switch kind {
            case "Role": roles["\(ns)/\(name)"] = (d["rules"]?.arrayValue ?? []).map(PolicyRule.init(json:))
            case "ClusterRole": roles["/\(name)"] = (d["rules"]?.arrayValue ?? []).map(PolicyRule.init(json:))
            case "RoleBinding", "ClusterRoleBinding":
                let refKind = d["roleRef"]?["kind"]?.stringValue ?? "Role"
                let refName = d["roleRef"]?["name"]?.stringValue ?? ""
                let roleKey = refKind == "ClusterRole" ? "/\(refName)" : "\(ns)/\(refName)"
                bindings.append((kind == "RoleBinding" ? ns : nil, d["subjects"]?.arrayValue ?? [], roleKey))
            case "": continue
            default: continue
            }
        }
        var grants: [Grant] = []
        for b in bindings {
            guard let rules = roles[b.roleKey] else {
                if strict { throw ConfigurationError("binding refers to missing role \(b.roleKey)") }
                continue
            }
            grants.append(Grant(namespace: b.namespace, subjects: b.subjects, rules: rules))
        }
        return grants
    }

    /// Loads a policy file (multi-document YAML or JSON).
    public static func load(file path: String) throws -> Authorizer {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var docs: [JSONValue] = []
        for d in try JSONValue.parseYAMLDocuments(text) { docs.append(d) }
        return try Authorizer(documents: docs)
    }

    static func subject(_ s: JSONValue, matches user: UserInfo) -> Bool {
        let name = s["name"]?.stringValue ?? ""
        switch s["kind"]?.stringValue ?? "" {
        case "User": return user.name == name
        case "Group": return user.groups.contains(name)
        case "ServiceAccount":
            let ns = s["namespace"]?.stringValue ?? ""
            return user.name == "system:serviceaccount:\(ns):\(name)"
        default: return false
        }
    }

    /// Whether `user` may perform the request.
    public func allows(_ user: UserInfo, _ info: RequestInfo) -> Bool {
        if !enforcing || user.isSystemMaster { return true }
        if !info.isResource {
            // system:discovery / system:public-info-viewer equivalents.
            if ["get", "head"].contains(info.verb) { return true }
            return grants.contains { g in g.subjects.contains { Self.subject($0, matches: user) } && g.rules.contains { $0.allowsPath(info.path, verb: info.verb) } }
        }
        // system:basic-user: anyone may ask who they are.
        if info.group == "authentication.k8s.io", info.resource == "selfsubjectreviews", info.verb == "create" { return true }
        return grants.contains { g in
            if let ns = g.namespace, ns != info.namespace { return false }
            guard g.subjects.contains(where: { Self.subject($0, matches: user) }) else { return false }
            return g.rules.contains { $0.allows(info) }
        }
    }
}
