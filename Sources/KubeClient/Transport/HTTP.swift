import FoundationEssentials

/// One request to the API server, relative to the cluster's server URL.
public struct KubeRequest: Sendable {
    public enum Method: String, Sendable { case get = "GET", post = "POST", put = "PUT", patch = "PATCH", delete = "DELETE" }

    public var method: Method
    /// The path, starting with `/` (`/apis/apps/v1/namespaces/shop/deployments/web`).
    public var path: String
    /// Query parameters, percent-encoded when the URL is built.
    public var query: [(String, String)]
    public var body: [UInt8]?
    public var contentType: String?
    /// Whether the request may be sent again after a 5xx or a connection failure that may have reached the server.
    /// True for reads; callers set it for writes that carry a resourceVersion precondition, which cannot apply twice.
    public var isRetryable: Bool
    /// Overrides the transport's request timeout.
    public var timeout: Duration?

    public init(method: Method, path: String, query: [(String, String)] = [], body: [UInt8]? = nil,
                contentType: String? = nil, isRetryable: Bool? = nil, timeout: Duration? = nil) {
        self.method = method
        self.path = path
        self.query = query
        self.body = body
        self.contentType = contentType
        self.isRetryable = isRetryable ?? (method == .get)
        self.timeout = timeout
    }

    /// `path?query` with the query percent-encoded.
    public var pathAndQuery: String {
        guard !query.isEmpty else { return path }
        return path + "?" + query.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
    }

    static func encode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(Character(Unicode.Scalar(b)))
            default:
                let hex = Array("0123456789ABCDEF")
                out += "%\(hex[Int(b >> 4)])\(hex[Int(b & 15)])"
            }
        }
        return out
    }
}

/// An HTTP answer (any status).
public struct KubeResponse: Sendable {
    public var status: Int
    /// Header names lowercased.
    public var headers: [String: String]
    public var body: [UInt8]
    /// Whether libcurl opened a new connection for this request (false when a kept-alive one was reused).
    public var openedConnection: Bool
    /// The HTTP version used (`2` or `1.1`).
    public var httpVersion: String

    /// `Retry-After` in whole seconds, if present and numeric.
    public var retryAfter: Duration? {
        guard let v = headers["retry-after"], let s = Int(v.trimmingWhitespace()), s >= 0 else { return nil }
        return .seconds(s)
    }
}

