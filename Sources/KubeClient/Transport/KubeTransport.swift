import BatchCore
import CCurl
import FoundationEssentials
import Synchronization

/// HTTPS to one API server through libcurl: per-thread reused easy handles (keep-alive, TLS session reuse),
/// HTTP/2 when offered, gzip, timeouts, `User-Agent: batchctl/<version>`, credentials per request with a refresh
/// after a 401, and client-go style retries. Blocking transfers run on dedicated threads, never on the
/// cooperative pool.
public final class KubeTransport: Sendable {
    public let config: ClusterConfig
    public let retryPolicy: RetryPolicy
    public let requestTimeout: Duration
    public let connectTimeout: Duration
    public let userAgent: String
    let warn: @Sendable (String) -> Void
    let onAttempt: (@Sendable (_ method: String, _ status: Int) -> Void)?
    private let pool: CurlThreadPool
    private let streamCount = Atomic<Int>(0)

    /// Streaming transfers (watches) whose curl thread is still running.
    public var activeStreams: Int { streamCount.load(ordering: .relaxed) }

    /// - Parameters:
    ///   - config: the cluster, TLS and credentials.
    ///   - retryPolicy: retries for 429, 5xx and connection failures (tests shorten it).
    ///   - requestTimeout: the limit for one request (not for watches).
    ///   - maxConcurrentRequests: pool threads, each with one easy handle and its kept-alive connection.
    ///   - warn: where API server `Warning` headers go.
    ///   - onAttempt: called after every attempt of a unary request with its method and HTTP status
    ///     (0 when no answer came), for request metrics.
    public init(config: ClusterConfig, retryPolicy: RetryPolicy = .standard, requestTimeout: Duration = .seconds(60),
                connectTimeout: Duration = .seconds(10), maxConcurrentRequests: Int = 4,
                userAgent: String = "batchctl/\(BatchctlVersion.current)",
                warn: @escaping @Sendable (String) -> Void = KubeConfigOptions.warnToStandardError,
                onAttempt: (@Sendable (_ method: String, _ status: Int) -> Void)? = nil) {
        self.config = config
        self.retryPolicy = retryPolicy
        self.requestTimeout = requestTimeout
        self.connectTimeout = connectTimeout
        self.userAgent = userAgent
        self.warn = warn
        self.onAttempt = onAttempt
        pool = CurlThreadPool(maxThreads: maxConcurrentRequests)
    }

    /// The API server's host and port, as named in messages.
    public var serverHost: String {
        URLComponents(string: config.server).map { c in c.port.map { "\(c.host ?? ""):\($0)" } ?? (c.host ?? config.server) } ?? config.server
    }

    // MARK: unary requests

    /// Sends `request`, retrying per `retryPolicy`, and returns a 2xx answer.
    /// - 429 is retried for every request (the server refused it before doing anything), after `Retry-After`.
    /// - 5xx and failures after the request may have reached the server are retried only if `isRetryable`.
    /// - Failures to connect at all are retried for every request.
    /// - 401 re-reads a token file or re-runs an exec plugin once, then resends.
    /// - Throws: `KubeError`, `KubeconfigError` (credentials), or `CancellationError`.
    public func send(_ request: KubeRequest) async throws -> KubeResponse {
        var attempt = 0
        var refreshedCredentials = false
        while true {
            try Task.checkCancellation()
            let outcome = try await perform(request)
            if let onAttempt {
                if case .response(let r) = outcome { onAttempt(request.method.rawValue, r.status) } else { onAttempt(request.method.rawValue, 0) }
            }
            switch outcome {
            case .credentials(let error):
                throw error
            case .failure(let code, let detail):
                let error = transportError(code, detail)
                let safe = Self.isConnectPhase(code) || (request.isRetryable && Self.isTransient(code))
                guard safe, attempt < retryPolicy.maxRetries else { throw error }
                try await Task.sleep(for: retryPolicy.delay(attempt: attempt, retryAfter: nil))
                attempt += 1
            case .response(let response):
                if let w = response.headers["warning"] { warn("\(serverHost): \(w)") }
                if (200..<300).contains(response.status) { return response }
                if response.status == 401, !refreshedCredentials, config.credentials.invalidate() {
                    refreshedCredentials = true
                    continue
                }
                let error = KubeError.from(httpCode: response.status, body: response.body, retryAfter: response.retryAfter)
                let retry: Bool
                switch response.status {
                case 429: retry = true
                case 500...599: retry = request.isRetryable
                default: retry = false
                }
                guard retry, attempt < retryPolicy.maxRetries else { throw error }
                let hinted = response.retryAfter ?? error.status?.details?.retryAfterSeconds.map { Duration.seconds($0) }
                try await Task.sleep(for: retryPolicy.delay(attempt: attempt, retryAfter: hinted))
                attempt += 1
            }
        }
    }

    enum Outcome: Sendable {
        case response(KubeResponse)
        case failure(CURLcode, String)
        case credentials(KubeconfigError)
    }

    /// One attempt on a pool thread. Cancelling the task aborts the transfer.
    func perform(_ request: KubeRequest) async throws -> Outcome {
        try await pool.run { [self] easy, flag in runBlocking(request, easy: easy, cancel: flag) }
    }

    private func runBlocking(_ request: KubeRequest, easy: CurlEasy?, cancel: CancelFlag) -> Outcome {
        guard let easy else { return .failure(CURLE_FAILED_INIT, "no transfer could be started (curl_easy_init failed, or no thread could be created: the process is out of memory or threads)") }
        if cancel.isCancelled { return .failure(CURLE_ABORTED_BY_CALLBACK, "cancelled") }
        let credential: Credential
        do {
            credential = try config.credentials.credential()
        } catch {
            return .credentials(error)
        }
        do {
            try configure(easy, request, credential, streaming: false)
        } catch {
            return .failure(error.code, error.detail)
        }
        easy.sink.cancel = cancel
        let rc = easy.perform()
        guard rc == CURLE_OK else { return .failure(rc, easy.errorDetail(rc)) }
        return .response(KubeResponse(status: easy.responseCode, headers: easy.sink.headers, body: easy.sink.body,
                                      openedConnection: easy.newConnections > 0,
                                      httpVersion: easy.httpVersion == 3 ? "2" : "1.1"))
    }

    // MARK: streams

    /// Streams the answer to `request` line by line (a watch), on a dedicated thread with its own connection.
    /// Ends normally at the server's end of stream; throws `KubeError` for a non-2xx answer or a broken transfer.
    /// Ending the iteration (break, task cancellation) stops the transfer within about a second.
    public func lines(_ request: KubeRequest) -> AsyncThrowingStream<[UInt8], any Error> {
        let (stream, continuation) = AsyncThrowingStream<[UInt8], any Error>.makeStream()
        let flag = CancelFlag()
        continuation.onTermination = { _ in flag.cancel() }
        streamCount.add(1, ordering: .relaxed)
        CurlThreadPool.spawnDedicated(name: "batchctl-watch") { [self] easy in
            defer { streamCount.subtract(1, ordering: .relaxed) }
            guard let easy else {
                continuation.finish(throwing: transportError(CURLE_FAILED_INIT, "no transfer could be started (curl_easy_init failed, or no thread could be created: the process is out of memory or threads)"))
                return
            }
            let credential: Credential
            do {
                credential = try config.credentials.credential()
                try configure(easy, request, credential, streaming: true)
            } catch let error as CurlFailure {
                continuation.finish(throwing: transportError(error.code, error.detail))
                return
            } catch {
                continuation.finish(throwing: error)
                return
            }
            easy.sink.cancel = flag
            var splitter = LineSplitter()
            var overflow = false
            easy.sink.onData = { buffer in
                guard let lines = splitter.feed(buffer) else {
                    overflow = true
                    return false
                }
                for line in lines { continuation.yield(line) }
                return true
            }
            let rc = easy.perform()
            if flag.isCancelled {
                continuation.finish()
                return
            }
            if overflow {
                continuation.finish(throwing: KubeError.decoding(message: "\(serverHost) sent a watch event longer than 16 MiB"))
                return
            }
            let status = easy.sink.status
            if status != 0, !(200..<300).contains(status) {
                if status == 401 { _ = config.credentials.invalidate() }
                let retryAfter = easy.sink.headers["retry-after"].flatMap { Int($0) }.map { Duration.seconds($0) }
                continuation.finish(throwing: KubeError.from(httpCode: status, body: easy.sink.body, retryAfter: retryAfter))
                return
            }
            guard rc == CURLE_OK else {
                continuation.finish(throwing: transportError(rc, easy.errorDetail(rc)))
                return
            }
            if let rest = splitter.finish() { continuation.yield(rest) }
            continuation.finish()
        }
        return stream
    }

    // MARK: configuration of a handle

    private func configure(_ easy: CurlEasy, _ request: KubeRequest, _ credential: Credential, streaming: Bool) throws(CurlFailure) {
        try easy.reset()
        var url = config.server + request.pathAndQuery
        if let name = config.tls.serverName, !name.isEmpty, var comps = URLComponents(string: config.server),
           let realHost = comps.host {
            // tls-server-name: verify (and send SNI for) `name` while connecting to the configured host.
            let port = comps.port ?? 443
            comps.host = name
            url = (comps.string ?? config.server) + request.pathAndQuery
            let target = realHost.contains(":") ? "[\(realHost)]" : realHost
            try easy.setConnectTo(["\(name):\(port):\(target):\(port)"])
        }
        try easy.set(CURLOPT_URL, url)
        try easy.set(CURLOPT_USERAGENT, userAgent)
        try easy.set(CURLOPT_ACCEPT_ENCODING, "")
        try easy.set(CURLOPT_HTTP_VERSION, ccurl_http_version_2tls())
        try easy.set(CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(connectTimeout))
        try easy.set(CURLOPT_TCP_KEEPALIVE, 1)
        if streaming {
            try easy.set(CURLOPT_TIMEOUT_MS, 0)
            try easy.set(CURLOPT_LOW_SPEED_LIMIT, 1)
            try easy.set(CURLOPT_LOW_SPEED_TIME, 600)
        } else {
            try easy.set(CURLOPT_TIMEOUT_MS, Self.milliseconds(request.timeout ?? requestTimeout))
        }
        switch request.method {
        case .get: try easy.set(CURLOPT_HTTPGET, 1)
        case .post: try easy.set(CURLOPT_POST, 1)
        case .put, .patch, .delete: try easy.set(CURLOPT_CUSTOMREQUEST, request.method.rawValue)
        }
        if let body = request.body {
            try easy.setBody(body)
        } else if request.method == .post || request.method == .put || request.method == .patch {
            try easy.setBody([])
        }
        var headers = ["Accept: application/json", "Expect:"]
        if let ct = request.contentType { headers.append("Content-Type: \(ct)") }
        if let token = credential.bearerToken, !token.isEmpty { headers.append("Authorization: Bearer \(token)") }
        try easy.setHeaders(headers)
        if let ca = config.tls.caPEM { try easy.setBlob(CURLOPT_CAINFO_BLOB, ca) }
        if config.tls.insecureSkipVerify {
            try easy.set(CURLOPT_SSL_VERIFYPEER, 0)
            try easy.set(CURLOPT_SSL_VERIFYHOST, 0)
        }
        if let cert = credential.clientCertificatePEM, let key = credential.clientKeyPEM {
            try easy.set(CURLOPT_SSLCERTTYPE, "PEM")
            try easy.setBlob(CURLOPT_SSLCERT_BLOB, cert)
            try easy.set(CURLOPT_SSLKEYTYPE, "PEM")
            try easy.setBlob(CURLOPT_SSLKEY_BLOB, key)
        }
        if let proxy = config.proxyURL {
            // The kubeconfig's proxy-url applies to this cluster whatever NO_PROXY says, as in client-go.
            try easy.set(CURLOPT_PROXY, proxy)
            try easy.set(CURLOPT_NOPROXY, "")
        }
    }

    static func milliseconds(_ d: Duration) -> Int {
        Int(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
    }

    // MARK: errors

    /// Failures before anything reached the server: safe to retry for any request.
    static func isConnectPhase(_ code: CURLcode) -> Bool {
        code == CURLE_COULDNT_RESOLVE_PROXY || code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_COULDNT_CONNECT
    }

    /// Failures that may be temporary but may have happened after the request was sent.
    static func isTransient(_ code: CURLcode) -> Bool {
        [CURLE_OPERATION_TIMEDOUT, CURLE_GOT_NOTHING, CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_PARTIAL_FILE,
         CURLE_HTTP2, CURLE_HTTP2_STREAM].contains(code)
    }

    /// A `KubeError.transport` naming the host and what to check.
    func transportError(_ code: CURLcode, _ detail: String) -> KubeError {
        let host = serverHost
        let what: String
        switch code {
        case CURLE_PEER_FAILED_VERIFICATION:
            if let source = config.tls.caSource {
                what = "certificate verify failed: the server's certificate is not signed by the kubeconfig's "
                    + "certificate-authority (\(source)), or does not name \(config.tls.serverName.map { "tls-server-name \($0)" } ?? host)"
            } else {
                what = "certificate verify failed: the server's certificate is not trusted by the system's CAs; "
                    + "set certificate-authority-data for this cluster in the kubeconfig"
            }
        case CURLE_SSL_CERTPROBLEM:
            what = "the client certificate or key could not be used (check client-certificate/client-key or the exec plugin's output)"
        case CURLE_SSL_CACERT_BADFILE:
            what = "the certificate-authority could not be loaded (\(config.tls.caSource ?? "system store")); check it is PEM"
        case CURLE_SSL_CONNECT_ERROR:
            what = "TLS handshake failed; check the server URL's scheme and port, and the client certificate if one is used"
        case CURLE_COULDNT_RESOLVE_HOST:
            what = "cannot resolve the host name; check the cluster's server URL and DNS"
        case CURLE_COULDNT_RESOLVE_PROXY, CURLE_PROXY:
            what = "the proxy \(config.proxyURL ?? "from the environment") failed; check proxy-url or https_proxy"
        case CURLE_COULDNT_CONNECT:
            what = "cannot connect; is the API server running and is the server URL (\(config.server)) right?"
        case CURLE_OPERATION_TIMEDOUT:
            what = "the request timed out; the API server may be overloaded or unreachable"
        case CURLE_GOT_NOTHING, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_PARTIAL_FILE:
            what = "the connection was closed unexpectedly"
        case CURLE_ABORTED_BY_CALLBACK, CURLE_WRITE_ERROR:
            what = "the transfer was cancelled"
        default:
            what = "request failed"
        }
        return .transport(curlCode: Int(code.rawValue), message: "\(host): \(what) (curl error \(code.rawValue): \(detail))")
    }
}
