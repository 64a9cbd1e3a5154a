import BatchCore
import FoundationEssentials
import KubeClient

/// Evaluates the BatchQueuePolicy's guards: each once per pass, however many queues use it.
public protocol GuardReader: Sendable {
    /// One reading per guard, by its expression (guards with one expression share it); never throws (a guard that cannot be read is `.unknown` with the reason).
    /// - Parameter timeout: the limit for each query (the caller keeps it inside the poll interval).
    func read(_ guards: [Guard], timeout: Duration) async -> [String: GuardReading]
}

/// Guards read as unknown because no Prometheus is configured (`prometheus.url` unset).
public struct NoPrometheus: GuardReader {
    public init() {}
    public func read(_ guards: [Guard], timeout: Duration) async -> [String: GuardReading] {
        Dictionary(guards.map {
            ($0.expr, GuardReading.unknown(reason: "no Prometheus is configured: set prometheus.url in the controller's configuration"))
        }, uniquingKeysWith: { a, _ in a })
    }
}

/// A Prometheus server's instant-query API (`GET /api/v1/query`) over the project's libcurl transport: its
/// threads, TLS verification (the system CAs, or `caFile`), a bearer token re-read from `tokenFile`, no retries
/// (a failed query is an unknown guard this pass; the next pass asks again). Answers are untrusted: at most
/// `maxResponseBytes` are read, and only a vector result counts (non-empty: healthy; empty: failing).
public final class PrometheusGuards: GuardReader {
    let transport: KubeTransport
    /// The URL's path prefix (a Prometheus behind a proxy at `/prometheus`), before `/api/v1/query`.
    let pathPrefix: String
    /// The most bytes of one answer that are decoded (a guard's answer is one or a few series).
    public static let maxResponseBytes = 1 << 20

    /// - Throws: `ConfigError` naming `prometheus.caFile` when it cannot be read.
    public init(settings: PrometheusSettings) throws(ConfigError) {
        var server = settings.url
        var prefix = ""
        if let scheme = server.firstRange(of: "://"), let slash = server[scheme.upperBound...].firstIndex(of: "/") {
            prefix = String(server[slash...])
            server = String(server[..<slash])
        }
        pathPrefix = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        var tls = TLSSettings()
        if let caFile = settings.caFile {
            guard let pem = FileManager.default.contents(atPath: caFile), !pem.isEmpty else {
                throw ConfigError(source: "the configuration", problems: [ConfigProblem(
                    path: "prometheus.caFile", message: "\(caFile) cannot be read or is empty; mount the CA bundle there or unset prometheus.caFile")])
            }
            tls = TLSSettings(caPEM: Array(pem), caSource: "prometheus.caFile \(caFile)")
        }
        let credentials = settings.tokenFile.map {
            CredentialProvider(token: .file(path: $0, fallback: nil, period: .seconds(60)), certificate: nil,
                               source: $0, field: "prometheus.tokenFile")
        } ?? .anonymous
        let config = ClusterConfig(server: server, namespace: "", source: "prometheus.url", tls: tls, credentials: credentials)
        transport = KubeTransport(config: config, retryPolicy: .none, requestTimeout: settings.timeout.duration,
                                  // One thread per guard at most (started on demand): all of a pass's queries run at
                                  // once, so the pass waits one timeout, however many guards there are.
                                  connectTimeout: settings.timeout.duration, maxConcurrentRequests: Guard.maxCount,
                                  warn: { _ in })
    }

    public func read(_ guards: [Guard], timeout: Duration) async -> [String: GuardReading] {
        await withTaskGroup(of: (String, GuardReading).self) { group in
            for expr in Set(guards.map(\.expr)) {
                group.addTask { (expr, await self.query(expr, timeout: timeout)) }
            }
            var out: [String: GuardReading] = [:]
            for await (expr, reading) in group { out[expr] = reading }
            return out
        }
    }

    /// One instant query.
    public func query(_ expr: String, timeout: Duration) async -> GuardReading {
        let request = KubeRequest(method: .get, path: pathPrefix + "/api/v1/query", query: [("query", expr)], timeout: timeout)
        let response: KubeResponse
        do {
            response = try await transport.send(request)
        } catch let error as KubeError {
            if case let .transport(code, _) = error {
                return .unknown(reason: "\(GuardReading.unreachablePrefix) at \(transport.config.server): \(Self.what(curlCode: code)) (curl error \(code))")
            }
            return .unknown(reason: "Prometheus refused the query (HTTP \(error.httpCode ?? 0): \(String((error.status?.message ?? "\(error)").prefix(300))))")
        } catch is CancellationError {
            return .unknown(reason: "the query was cancelled")
        } catch {
            return .unknown(reason: "\(GuardReading.unreachablePrefix): \(error)")
        }
        return Self.reading(fromBody: response.body)
    }

    /// What a libcurl failure means for a Prometheus query.
    static func what(curlCode: Int) -> String {
        switch curlCode {
        case 6: return "cannot resolve the host name; check prometheus.url"
        case 7: return "cannot connect; is Prometheus running and is prometheus.url right?"
        case 28: return "the query timed out (prometheus.timeout, at most the poll interval)"
        case 35, 58, 60, 77: return "TLS failed; check the https URL and prometheus.caFile"
        default: return "the request failed"
        }
    }

    /// A query answer as a reading; anything but a well-formed vector is unknown.
    public static func reading(fromBody body: [UInt8]) -> GuardReading {
        guard body.count <= maxResponseBytes else {
            return .unknown(reason: "Prometheus answered with more than \(maxResponseBytes) bytes; make the guard's expression return one series (wrap it in sum(...) or max(...))")
        }
        let answer: QueryAnswer
        do {
            answer = try JSONDecoder().decode(QueryAnswer.self, from: Data(body))
        } catch {
            return .unknown(reason: "Prometheus's answer is not a query result (\(String("\(error)".prefix(200))))")
        }
        guard answer.status == "success", let data = answer.data else {
            return .unknown(reason: "the query failed: \(String((answer.error ?? answer.status).prefix(300)))")
        }
        guard data.resultType == "vector" else {
            return .unknown(reason: "the expression returns a \(String(data.resultType.prefix(20))), not a vector: write a comparison that filters series, such as sum(metric) < 80")
        }
        guard let first = data.result.first else { return .failing }
        return .healthy(value: first.value)
    }

    struct QueryAnswer: Decodable {
        var status: String
        var data: QueryData?
        var error: String?
    }

    struct QueryData: Decodable {
        var resultType: String
        var result: [Sample]

        enum CodingKeys: String, CodingKey { case resultType, result }
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            resultType = try c.decode(String.self, forKey: .resultType)
            // A scalar or string result is `[time, "value"]`, not a list of series: keep none of it.
            result = resultType == "vector" ? try c.decode([Sample].self, forKey: .result) : []
        }
    }

    /// One series of a vector: `{"metric": {...}, "value": [1700000000.123, "42"]}`.
    struct Sample: Decodable {
        var value: Double
        enum CodingKeys: String, CodingKey { case value }
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            var pair = try c.nestedUnkeyedContainer(forKey: .value)
            _ = try pair.decode(Double.self)
            let text = try pair.decode(String.self)
            value = Double(text) ?? .nan
        }
    }
}
