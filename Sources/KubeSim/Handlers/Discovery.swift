import BatchCore
/// Legacy (unaggregated) discovery: `/api`, `/api/v1`, `/apis`, `/apis/<group>`, `/apis/<group>/<version>`,
/// `/version` (reference §9.1). Always plain `application/json`.
extension Simulator {
    func discoveryResponse(_ request: APIRequest) throws -> APIResponse? {
        guard request.method == "GET" || request.method == "HEAD" else { return nil }
        let parts = request.path.split(separator: "/").map(String.init)
        switch parts.count {
        case 1 where parts[0] == "version":
            return .json(["major": "1", "minor": "32", "gitVersion": "v1.32.0-kubesim", "gitCommit": "kubesim",
                          "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23",
                          "compiler": "gc", "platform": "linux/amd64"])
        case 1 where ["healthz", "livez", "readyz"].contains(parts[0]):
            return .text("ok", status: 200)
        case 1 where parts[0] == "api":
            return .json(["kind": "APIVersions", "versions": ["v1"],
                          "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": .string(configuration.advertisedAddress)]]])
        case 1 where parts[0] == "apis":
            return .json(["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(registry.groups.map(groupJSON))])
        case 2 where parts[0] == "api" && parts[1] == "v1":
            return .json(resourceList(group: "", version: "v1"))
        case 2 where parts[0] == "apis":
            guard let g = registry.groups.first(where: { $0.name == parts[1] }) else { return .error(.pathNotFound()) }
            var json = groupJSON(g)
            json["kind"] = "APIGroup"
            json["apiVersion"] = "v1"
            return .json(json)
        case 3 where parts[0] == "apis":
            guard registry.groups.contains(where: { $0.name == parts[1] && $0.versions.contains(parts[2]) }) else {
                return .error(.pathNotFound())
            }
            return .json(resourceList(group: parts[1], version: parts[2]))
        default:
            return nil
        }
    }

    private func groupJSON(_ g: (name: String, versions: [String])) -> JSONValue {
        let versions: [JSONValue] = g.versions.map { ["groupVersion": .string("\(g.name)/\($0)"), "version": .string($0)] }
        return ["name": .string(g.name), "versions": .array(versions), "preferredVersion": versions[0]]
    }

    func resourceList(group: String, version: String) -> JSONValue {
        var resources: [JSONValue] = []
        for t in registry.all where t.group == group && t.version == version {
            var r: JSONValue = ["name": .string(t.plural), "singularName": .string(t.singular), "namespaced": .bool(t.namespaced),
                                "kind": .string(t.kind), "verbs": .array(t.verbs.map { .string($0) })]
            if !t.shortNames.isEmpty { r["shortNames"] = .array(t.shortNames.map { .string($0) }) }
            if !t.categories.isEmpty { r["categories"] = .array(t.categories.map { .string($0) }) }
            resources.append(r)
            if t.statusSubresource {
                resources.append(["name": .string("\(t.plural)/status"), "singularName": "", "namespaced": .bool(t.namespaced),
                                  "kind": .string(t.kind), "verbs": ["get", "patch", "update"]])
            }
            if t.scale != nil {
                resources.append(["name": .string("\(t.plural)/scale"), "singularName": "", "namespaced": .bool(t.namespaced),
                                  "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]])
            }
        }
        let gv = group.isEmpty ? version : "\(group)/\(version)"
        return ["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(gv), "resources": .array(resources)]
    }

    /// `POST selfsubjectreviews`: who the server thinks the caller is (reference §5.3).
    func selfSubjectReview(_ request: APIRequest) -> APIResponse {
        let user = request.user ?? UserInfo(name: "system:anonymous", groups: ["system:unauthenticated"])
        var userInfo: JSONValue = ["username": .string(user.name), "groups": .array(user.groups.map { .string($0) })]
        if !user.uid.isEmpty { userInfo["uid"] = .string(user.uid) }
        return .json(["kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                      "metadata": ["creationTimestamp": .string(Timestamps.rfc3339())],
                      "status": ["userInfo": userInfo]], status: 201)
    }
}
