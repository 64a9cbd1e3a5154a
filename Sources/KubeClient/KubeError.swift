import BatchCore
import FoundationEssentials

/// A Kubernetes `Status` object, as the API server returns it with every error.
public struct KubeStatus: Sendable, Hashable, Codable {
    public var kind: String?
    public var apiVersion: String?
    /// `Success` or `Failure`.
    public var status: String?
    public var message: String?
    /// A machine-readable reason: `Conflict`, `NotFound`, `Forbidden`, `Expired`, ...
    public var reason: String?
    public var details: Details?
    public var code: Int?

    /// `Status.details`.
    public struct Details: Sendable, Hashable, Codable {
        public var name: String?
        public var group: String?
        /// The resource plural (for example `deployments`), or the Kind for 422.
        public var kind: String?
        public var uid: String?
        public var causes: [Cause]?
        public var retryAfterSeconds: Int?
    }

    /// `Status.details.causes[]`.
    public struct Cause: Sendable, Hashable, Codable {
        public var reason: String?
        public var message: String?
        public var field: String?
    }

    public init(code: Int, reason: String?, message: String?, details: Details? = nil) {
        self.kind = "Status"
        self.apiVersion = "v1"
        self.status = "Failure"
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
    }

    /// The Status in an error body, or one synthesised from the HTTP code when the body is not a Status
    /// (plain-text 429s from priority-and-fairness, 404s and 500s from filters).
    public static func from(httpCode: Int, body: [UInt8]) -> KubeStatus {
        if let decoded = try? JSONDecoder().decode(KubeStatus.self, from: Data(body)), decoded.kind == "Status" {
            var s = decoded
            if s.code == nil || s.code == 0 { s.code = httpCode }
            if s.reason == nil || s.reason == "" { s.reason = reasonForCode(httpCode) }
            return s
        }
        var text = String(decoding: body.prefix(512), as: UTF8.self).trimmingWhitespace()
        if text.isEmpty { text = "the server answered HTTP \(httpCode) with no message" }
        return KubeStatus(code: httpCode, reason: reasonForCode(httpCode), message: text)
    }

    /// The reason apimachinery's `NewGenericServerResponse` gives an HTTP code.
    public static func reasonForCode(_ code: Int) -> String {
        switch code {
        case 400: "BadRequest"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "NotFound"
        case 405: "MethodNotAllowed"
        case 406: "NotAcceptable"
        case 409: "Conflict"
        case 410: "Expired"
        case 415: "UnsupportedMediaType"
        case 422: "Invalid"
        case 429: "TooManyRequests"
        case 500: "InternalError"
        case 503: "ServiceUnavailable"
        case 504: "Timeout"
        default: "Unknown"
        }
    }
}

/// A failed Kubernetes API call. Built from the server's `Status` (code, reason, message, details), or from
/// libcurl when no answer arrived. Never carries a token.
public enum KubeError: BatchctlFailure, Equatable {
    /// 409: a stale `resourceVersion` (someone wrote in between), a UID precondition, or `AlreadyExists`.
    case conflict(KubeStatus)
    /// 404.
    case notFound(KubeStatus)
    /// 403: RBAC or admission refused the request.
    case forbidden(KubeStatus)
    /// 401: the credentials were missing, invalid or expired (after one refresh was tried).
    case unauthorized(KubeStatus)
    /// 422 (validation) or 400 (malformed request).
    case invalid(KubeStatus)
    /// 410: a watch or list `resourceVersion` too old for the server's history.
    case expired(KubeStatus)
    /// 429 after the retries ran out; `retryAfter` is the server's last `Retry-After`.
    case tooManyRequests(retryAfter: Duration?, KubeStatus)
    /// Any other HTTP error status (5xx, 405, 415, ...).
    case server(code: Int, KubeStatus)
    /// No HTTP answer: connection, TLS or timeout failure. `curlCode` is libcurl's `CURLcode`.
    case transport(curlCode: Int, message: String)
    /// A 2xx answer whose body could not be decoded as the expected type.
    case decoding(message: String)

    /// Classifies an HTTP error answer.
    public static func from(httpCode: Int, body: [UInt8], retryAfter: Duration? = nil) -> KubeError {
        let status = KubeStatus.from(httpCode: httpCode, body: body)
        switch (httpCode, status.reason) {
        case (409, _): return .conflict(status)
        case (404, _): return .notFound(status)
        case (403, _): return .forbidden(status)
        case (401, _): return .unauthorized(status)
        case (422, _), (400, _): return .invalid(status)
        case (410, _), (_, "Expired"), (_, "Gone"): return .expired(status)
        case (429, _): return .tooManyRequests(retryAfter: retryAfter, status)
        default: return .server(code: httpCode, status)
        }
    }

    /// The Status behind an HTTP error, nil for transport and decoding failures.
    public var status: KubeStatus? {
        switch self {
        case .conflict(let s), .notFound(let s), .forbidden(let s), .unauthorized(let s), .invalid(let s), .expired(let s),
             .tooManyRequests(_, let s), .server(_, let s): s
        case .transport, .decoding: nil
        }
    }

    /// The HTTP status code, nil when no answer arrived.
    public var httpCode: Int? { status?.code }

    public var isConflict: Bool { if case .conflict = self { true } else { false } }
    public var isNotFound: Bool { if case .notFound = self { true } else { false } }
    public var isForbidden: Bool { if case .forbidden = self { true } else { false } }
    public var isUnauthorized: Bool { if case .unauthorized = self { true } else { false } }
    public var isExpired: Bool { if case .expired = self { true } else { false } }

    public var kind: FailureKind {
        switch self {
        case .conflict: .conflict
        case .forbidden: .forbidden
        case .invalid: .badInput
        default: .runtime
        }
    }

    public var description: String {
        switch self {
        case .transport(_, let message), .decoding(let message):
            return message
        case .unauthorized(let s):
            return "\(s.message ?? "Unauthorized") (HTTP 401): the API server did not accept the credentials; "
                + "check the kubeconfig user's token, certificate or exec plugin, or log in again"
        case .forbidden(let s):
            return "\(s.message ?? "forbidden") (HTTP 403)"
        case .tooManyRequests(let after, let s):
            let wait = after.map { ", retry after \($0.components.seconds)s" } ?? ""
            return "\(s.message ?? "too many requests") (HTTP 429\(wait)): the API server is throttling requests"
        case .conflict(let s), .notFound(let s), .invalid(let s), .expired(let s), .server(_, let s):
            var text = "\(s.message ?? s.reason ?? "error") (HTTP \(s.code ?? 0)\(s.reason.map { " \($0)" } ?? ""))"
            for cause in s.details?.causes ?? [] {
                text += "\n  \(cause.field.map { "\($0): " } ?? "")\(cause.message ?? cause.reason ?? "")"
            }
            return text
        }
    }
}
