import BatchCore
import MemberwiseInit
/// A Kubernetes API failure, rendered as a `Status` object (reference §0, §2.2).
@MemberwiseInit(.public)
public struct APIError: Error, Sendable, CustomStringConvertible {
    /// HTTP status code.
    public var code: Int
    /// `Status.reason`, such as `NotFound`.
    public var reason: String
    /// `Status.message`.
    public var message: String
    /// `Status.details`, if any.
    public var details: JSONValue?
    /// Seconds for `Retry-After` (429/5xx), also `details.retryAfterSeconds`.
    public var retryAfterSeconds: Int?

    public var description: String { "\(code) \(reason): \(message)" }

    /// The `Status` body.
    public var status: JSONValue {
        var s: JSONValue = ["kind": "Status", "apiVersion": "v1", "metadata": .emptyObject, "status": "Failure",
                            "message": .string(message), "reason": .string(reason), "code": .int(Int64(code))]
        var d = details
        if let retryAfterSeconds {
            if d == nil { d = .emptyObject }
            d?["retryAfterSeconds"] = .int(Int64(retryAfterSeconds))
        }
        if let d { s["details"] = d }
        if reason.isEmpty { s["reason"] = nil }
        return s
    }

    /// `details` for an object: name, group (omitted for core), kind = resource plural.
    static func details(name: String?, group: String, kind: String) -> JSONValue {
        var d: JSONValue = ["kind": .string(kind)]
        if let name, !name.isEmpty { d["name"] = .string(name) }
        if !group.isEmpty { d["group"] = .string(group) }
        return d
    }

    /// `deployments.apps`, or `pods` for the core group.
    static func qualified(_ resource: String, _ group: String) -> String {
        group.isEmpty ? resource : "\(resource).\(group)"
    }

    /// 404 `deployments.apps "web" not found`.
    public static func notFound(resource: String, group: String, name: String) -> APIError {
        APIError(code: 404, reason: "NotFound", message: "\(qualified(resource, group)) \"\(name)\" not found",
                 details: details(name: name, group: group, kind: resource))
    }

    /// 409 AlreadyExists.
    public static func alreadyExists(resource: String, group: String, name: String) -> APIError {
        APIError(code: 409, reason: "AlreadyExists", message: "\(qualified(resource, group)) \"\(name)\" already exists",
                 details: details(name: name, group: group, kind: resource))
    }

    /// 409 Conflict on a stale resourceVersion.
    public static func conflict(resource: String, group: String, name: String) -> APIError {
        APIError(code: 409, reason: "Conflict",
                 message: "Operation cannot be fulfilled on \(qualified(resource, group)) \"\(name)\": the object has been modified; please apply your changes to the latest version and try again",
                 details: details(name: name, group: group, kind: resource))
    }

    /// 409 Conflict with a custom explanation (UID precondition and similar).
    public static func conflict(resource: String, group: String, name: String, because why: String) -> APIError {
        APIError(code: 409, reason: "Conflict",
                 message: "Operation cannot be fulfilled on \(qualified(resource, group)) \"\(name)\": \(why)",
                 details: details(name: name, group: group, kind: resource))
    }

    /// A field error for 422 responses.
    @MemberwiseInit(.public)
    public struct Cause: Sendable {
        /// `FieldValueInvalid`, `FieldValueRequired`, `FieldValueForbidden`, ...
        public var reason: String
        /// The field path, such as `spec.replicas`.
        public var field: String
        /// The message without the field, such as `Invalid value: -1: must be greater than or equal to 0`.
        public var message: String
    }

    /// 422 Invalid: `<Kind>.<group> "<name>" is invalid: <field>: <message>, ...`.
    public static func invalid(kind: String, group: String, name: String, causes: [Cause]) -> APIError {
        let text = causes.map { "\($0.field): \($0.message)" }.joined(separator: ", ")
        let joined = causes.count > 1 ? "[\(text)]" : text
        var d = details(name: name, group: group, kind: kind)
        d["causes"] = .array(causes.map { ["reason": .string($0.reason), "message": .string($0.message), "field": .string($0.field)] })
        return APIError(code: 422, reason: "Invalid", message: "\(qualified(kind, group)) \"\(name)\" is invalid: \(joined)", details: d)
    }

    /// 400 BadRequest.
    public static func badRequest(_ message: String) -> APIError {
        APIError(code: 400, reason: "BadRequest", message: message)
    }

    /// 401 Unauthorized (message exactly `Unauthorized`).
    public static let unauthorized = APIError(code: 401, reason: "Unauthorized", message: "Unauthorized")

    /// 403 Forbidden in the apiserver's `forbiddenMessage` format.
    public static func forbidden(user: String, verb: String, resource: String, subresource: String, group: String,
                                 namespace: String, name: String) -> APIError {
        let fullResource = subresource.isEmpty ? resource : "\(resource)/\(subresource)"
        let scope = namespace.isEmpty ? "at the cluster scope" : "in the namespace \"\(namespace)\""
        let reason = "User \"\(user)\" cannot \(verb) resource \"\(fullResource)\" in API group \"\(group)\" \(scope)"
        let prefix = name.isEmpty ? qualified(resource, group) : "\(qualified(resource, group)) \"\(name)\""
        return APIError(code: 403, reason: "Forbidden", message: "\(prefix) is forbidden: \(reason)",
                        details: details(name: name, group: group, kind: resource))
    }

    /// 403 for a non-resource URL.
    public static func forbiddenPath(user: String, verb: String, path: String) -> APIError {
        APIError(code: 403, reason: "Forbidden",
                 message: "forbidden: User \"\(user)\" cannot \(verb) path \"\(path)\"", details: .emptyObject)
    }

    /// 405 MethodNotAllowed.
    public static func methodNotAllowed(_ message: String = "the server does not allow this method on the requested resource") -> APIError {
        APIError(code: 405, reason: "MethodNotAllowed", message: message, details: .emptyObject)
    }

    /// 410 Expired for a too-old resourceVersion.
    public static func expired(_ message: String) -> APIError {
        APIError(code: 410, reason: "Expired", message: message)
    }

    /// 415 UnsupportedMediaType listing the accepted patch types.
    public static func unsupportedMediaType(_ contentType: String, accepted: [String]) -> APIError {
        APIError(code: 415, reason: "UnsupportedMediaType",
                 message: "the body of the request was in an unknown format - accepted media types include: \(accepted.joined(separator: ", "))",
                 details: .emptyObject)
    }

    /// 404 for a URL that names no resource.
    public static func pathNotFound() -> APIError {
        APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource", details: .emptyObject)
    }

    /// 500 InternalError.
    public static func internalError(_ message: String) -> APIError {
        APIError(code: 500, reason: "InternalError", message: "Internal error occurred: \(message)",
                 details: ["causes": [["message": .string(message)]]])
    }

    /// 429 TooManyRequests (Status flavour, with `details.retryAfterSeconds`).
    public static func tooManyRequests(retryAfter: Int) -> APIError {
        APIError(code: 429, reason: "TooManyRequests", message: "the server has received too many requests and has asked us to try again later",
                 details: .emptyObject, retryAfterSeconds: retryAfter)
    }
}
