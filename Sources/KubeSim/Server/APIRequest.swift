/// An HTTP request as the simulator sees it, independent of the HTTP server (so unit tests can drive it).
public struct APIRequest: Sendable {
    /// `GET`, `POST`, ...
    public var method: String
    /// The path without the query.
    public var path: String
    /// The raw query string (without `?`).
    public var rawQuery: String
    /// Decoded query parameters (last value wins).
    public var query: [String: String]
    /// Header values by lower-cased name.
    public var headers: [String: String]
    /// Raw body bytes.
    public var body: [UInt8]
    /// The authenticated user (nil until authentication ran).
    public var user: UserInfo?

    /// Creates a request; `target` may carry a query (`/api/v1/pods?watch=1`).
    public init(method: String, target: String, headers: [String: String] = [:], body: [UInt8] = [], user: UserInfo? = nil) {
        self.method = method.uppercased()
        if let q = target.firstIndex(of: "?") {
            path = String(target[..<q])
            rawQuery = String(target[target.index(after: q)...])
        } else {
            path = target
            rawQuery = ""
        }
        query = Self.parseQuery(rawQuery)
        var lowered: [String: String] = [:]
        for (k, v) in headers { lowered[k.lowercased()] = v }
        self.headers = lowered
        self.body = body
        self.user = user
    }

    /// `Content-Type` without parameters, lower-cased.
    public var contentType: String {
        (headers["content-type"] ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
    }

    /// Whether the query flag is `1` or `true`.
    public func flag(_ name: String) -> Bool {
        guard let v = query[name] else { return false }
        return v == "1" || v.lowercased() == "true"
    }

    static func parseQuery(_ raw: String) -> [String: String] {
        var result: [String: String] = [:]
        for pair in raw.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = percentDecode(String(parts[0]))
            let value = parts.count > 1 ? percentDecode(String(parts[1])) : ""
            result[key] = value
        }
        return result
    }

    /// Decodes `%XX` and `+` (as Go's `url.ParseQuery` does).
    static func percentDecode(_ s: String) -> String {
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if b == UInt8(ascii: "%"), it.count >= 2,
                      let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A response: a complete body, or a stream of chunks (watches).
public struct APIResponse: Sendable {
    /// Complete or streamed body.
    public enum Body: Sendable {
        case bytes([UInt8])
        /// A streamed body: the producer calls `emit` for every chunk (each is flushed) and returns to end it.
        case stream(@Sendable (_ emit: ([UInt8]) async throws -> Void) async throws -> Void)
    }
    /// HTTP status code.
    public var status: Int
    /// Response headers in order.
    public var headers: [(String, String)]
    /// The body.
    public var body: Body

    /// A JSON response.
    public static func json(_ value: JSONValue, status: Int = 200) -> APIResponse {
        APIResponse(status: status, headers: [("Content-Type", "application/json")], body: .bytes(value.compactBytes))
    }

    /// A `Status` error response (with `Retry-After` when the error carries one).
    public static func error(_ error: APIError) -> APIResponse {
        var r = json(error.status, status: error.code)
        if let after = error.retryAfterSeconds { r.headers.append(("Retry-After", String(after))) }
        return r
    }

    /// A plain-text response.
    public static func text(_ text: String, status: Int, headers: [(String, String)] = []) -> APIResponse {
        APIResponse(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")] + headers, body: .bytes(Array(text.utf8)))
    }

    /// The body bytes (empty for streams).
    public var bytes: [UInt8] {
        if case .bytes(let b) = body { return b }
        return []
    }

    /// The body parsed as JSON (for tests).
    public var jsonBody: JSONValue? { try? JSONValue.parse(bytes) }
}

import BatchCore
import Foundation
