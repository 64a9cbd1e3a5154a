/// What a URL addresses, as the apiserver's `RequestInfoFactory` decides it.
public struct RequestInfo: Sendable, Equatable {
    /// Whether this is a resource request (as opposed to `/version`, `/api`, ...).
    public var isResource: Bool
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`
    /// (for non-resource paths: the lower-cased HTTP method).
    public var verb: String
    /// API group.
    public var group = ""
    /// API version.
    public var version = ""
    /// Namespace (empty: cluster scope or all).
    public var namespace = ""
    /// Resource plural.
    public var resource = ""
    /// Object name (empty for collections).
    public var name = ""
    /// `status`, `scale`, ...
    public var subresource = ""
    /// The URL path.
    public var path: String

    /// Parses `method` + `path` (+ whether the query asks to watch).
    public init(method: String, path: String, watch: Bool) {
        self.path = path
        let parts = path.split(separator: "/").map(String.init)
        isResource = false
        verb = method.lowercased()
        var rest: [String]
        if parts.first == "api", parts.count >= 3 {
            version = parts[1]
            rest = Array(parts.dropFirst(2))
        } else if parts.first == "apis", parts.count >= 4 {
            group = parts[1]
            version = parts[2]
            rest = Array(parts.dropFirst(3))
        } else {
            return
        }
        isResource = true
        if rest.first == "namespaces", rest.count > 1 {
            namespace = rest[1]
            if rest.count > 2, !["status", "finalize"].contains(rest[2]) {
                rest = Array(rest.dropFirst(2))
            } else {
                namespace = ""
                rest = ["namespaces"] + rest.dropFirst(1)
                // /namespaces/{name} is the namespace object itself.
            }
        }
        resource = rest[0]
        if rest.count > 1 { name = rest[1] }
        if rest.count > 2 { subresource = rest[2...].joined(separator: "/") }
        switch method.uppercased() {
        case "GET", "HEAD": verb = name.isEmpty ? (watch ? "watch" : "list") : (watch ? "watch" : "get")
        case "POST": verb = "create"
        case "PUT": verb = "update"
        case "PATCH": verb = "patch"
        case "DELETE": verb = name.isEmpty ? "deletecollection" : "delete"
        default: verb = method.lowercased()
        }
    }

    /// `resource/subresource` (as RBAC names it).
    public var fullResource: String { subresource.isEmpty ? resource : "\(resource)/\(subresource)" }
}
