import BatchCore
import CCurl
import FoundationEssentials

/// One plain HTTP(S) POST through the same libcurl handles and threads as `KubeTransport`, for endpoints
/// that are not the Kubernetes API (the reminder webhook). It lives beside the Kubernetes transport so
/// there is one curl wrapper in the package; it knows nothing about Kubernetes: the system CAs verify the
/// server, the environment's proxy settings apply, no credentials are added, and it never retries
/// (the caller decides that).
public final class HTTPPoster: Sendable {
    /// What came back.
    public struct Response: Sendable, Equatable {
        public var status: Int
        public var body: [UInt8]
    }

    /// Why a POST got no HTTP answer. The description never contains the URL (it may hold a token).
    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// libcurl's error code, such as 7 (could not connect) or 28 (timed out).
        public let curlCode: Int
        /// libcurl's message with the URL removed.
        public let message: String
        /// The attempt ran out of time.
        public var isTimeout: Bool { curlCode == Int(CURLE_OPERATION_TIMEDOUT.rawValue) }
        public var description: String { "curl error \(curlCode): \(message)" }
    }

    private let pool: CurlThreadPool
    public let userAgent: String

    /// - Parameter maxConcurrent: pool threads (each with one reused easy handle).
    public init(maxConcurrent: Int = 1, userAgent: String = "batchctl/\(BatchctlVersion.current)") {
        pool = CurlThreadPool(maxThreads: maxConcurrent, name: "batchctl-http")
        self.userAgent = userAgent
    }

    /// POSTs `body` to `url` and returns the answer, whatever its status.
    /// - Parameters:
    ///   - timeout: the limit for the whole attempt (connect, send, answer).
    ///   - contentType: the `Content-Type` header.
    /// - Throws: `Failure` when no HTTP answer came (connection refused, timeout, TLS), `CancellationError`.
    public func post(_ url: String, body: [UInt8], contentType: String = "application/json",
                     timeout: Duration) async throws -> Response {
        let result = try await pool.run { [userAgent] easy, flag in
            Self.run(easy, url: url, body: body, contentType: contentType, timeout: timeout, userAgent: userAgent, cancel: flag)
        }
        return try result.get()
    }

    private static func run(_ easy: CurlEasy?, url: String, body: [UInt8], contentType: String, timeout: Duration,
                            userAgent: String, cancel: CancelFlag) -> Result<Response, Failure> {
        guard let easy else { return .failure(Failure(curlCode: Int(CURLE_FAILED_INIT.rawValue), message: "curl_easy_init failed")) }
        do {
            try easy.reset()
            try easy.set(CURLOPT_URL, url)
            try easy.set(CURLOPT_USERAGENT, userAgent)
            let ms = max(1, KubeTransport.milliseconds(timeout))
            try easy.set(CURLOPT_TIMEOUT_MS, ms)
            try easy.set(CURLOPT_CONNECTTIMEOUT_MS, ms)
            try easy.set(CURLOPT_POST, 1)
            try easy.setBody(body)
            try easy.setHeaders(["Content-Type: \(contentType)", "Accept: */*", "Expect:"])
            try easy.set(CURLOPT_PROTOCOLS_STR, "http,https")
        } catch {
            return .failure(Failure(curlCode: Int(error.code.rawValue), message: scrub(error.detail, url: url)))
        }
        easy.sink.cancel = cancel
        let rc = easy.perform()
        guard rc == CURLE_OK else {
            return .failure(Failure(curlCode: Int(rc.rawValue), message: scrub(easy.errorDetail(rc), url: url)))
        }
        return .success(Response(status: easy.responseCode, body: easy.sink.body))
    }

    /// libcurl messages may quote the URL; a webhook URL is a secret (its path carries the token).
    static func scrub(_ message: String, url: String) -> String {
        message.replacing(url, with: maskedURL(url))
    }

    /// `https://hooks.example.org/***`: scheme, host and port only, for logs and messages.
    public static func maskedURL(_ url: String) -> String {
        guard let c = URLComponents(string: url), let scheme = c.scheme, let host = c.host else { return "***" }
        return "\(scheme)://\(host)\(c.port.map { ":\($0)" } ?? "")/***"
    }
}
