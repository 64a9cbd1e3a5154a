import Foundation
import LocalProcesses

/// A real Prometheus (Debian's `prometheus`) and `prometheus-redis-exporter` on loopback, scraping one
/// redis-server every second, for the guard tests. Both have a temporary directory (config, TSDB) and are
/// stopped by pid; `stopPrometheus`/`startPrometheus` take Prometheus away and bring it back on the same port.
public final class PrometheusFixture: @unchecked Sendable {
    public let directory: TemporaryDirectory
    /// Prometheus's port (`http://127.0.0.1:<port>`).
    public let port: Int
    public let exporterPort: Int
    private var prometheus: ChildProcess?
    private var exporter: ChildProcess?
    /// Serve HTTPS with this certificate and key (PEM files) instead of HTTP.
    public let tls: (certificate: String, key: String)?

    /// `prometheus.url` for the controller's configuration.
    public var url: String { "\(tls == nil ? "http" : "https")://127.0.0.1:\(port)" }

    /// Starts the exporter for `redisPort` and Prometheus, and waits until a first scrape made
    /// `redis_memory_used_bytes` queryable.
    /// - Parameter tls: serve the API over HTTPS with this certificate and key (its `--web.config.file`).
    public init(redisPort: Int, tls: (certificate: String, key: String)? = nil) throws {
        self.tls = tls
        directory = try TemporaryDirectory(prefix: "prometheus")
        port = try FreePort.next()
        exporterPort = try FreePort.next()
        for binary in [Self.prometheusBinary, Self.exporterBinary] where !FileManager.default.isExecutableFile(atPath: binary) {
            throw SupportError("\(binary) is not installed; run `make deps` (Debian packages prometheus and prometheus-redis-exporter)")
        }
        let config = """
            global: {scrape_interval: 1s, evaluation_interval: 1s, scrape_timeout: 900ms}
            scrape_configs:
              - job_name: redis
                static_configs: [{targets: ["127.0.0.1:\(exporterPort)"]}]

            """
        try config.write(toFile: directory.path + "/prometheus.yml", atomically: true, encoding: .utf8)
        if let tls {
            try "tls_server_config: {cert_file: \"\(tls.certificate)\", key_file: \"\(tls.key)\"}\n"
                .write(toFile: directory.path + "/web.yml", atomically: true, encoding: .utf8)
        }
        exporter = try ChildProcess(name: "redis-exporter-\(exporterPort)", executable: Self.exporterBinary,
                                    arguments: ["--redis.addr", "redis://127.0.0.1:\(redisPort)",
                                                "--web.listen-address", "127.0.0.1:\(exporterPort)"],
                                    logDirectory: directory.path)
        guard Wait.until(timeout: .seconds(20), { FreePort.isListening(exporterPort) }) else {
            let log = exporter?.stderr ?? ""
            stop()
            throw SupportError("prometheus-redis-exporter did not start on port \(exporterPort): \(log)")
        }
        try startPrometheus()
        guard Wait.until(timeout: .seconds(60), interval: .milliseconds(200), { (try? self.query("redis_memory_used_bytes"))?.isEmpty == false }) else {
            let log = prometheus?.stderr ?? ""
            stop()
            throw SupportError("Prometheus did not scrape the redis exporter within 60 s: \(log.suffix(2000))")
        }
    }

    static let prometheusBinary = "/usr/bin/prometheus"
    static let exporterBinary = "/usr/bin/prometheus-redis-exporter"

    public var isPrometheusRunning: Bool { prometheus?.isRunning ?? false }

    /// Starts (or restarts) Prometheus on the same port and storage, and waits until it is ready.
    public func startPrometheus() throws {
        prometheus = try ChildProcess(
            name: "prometheus-\(port)", executable: Self.prometheusBinary,
            arguments: ["--config.file", directory.path + "/prometheus.yml", "--storage.tsdb.path", directory.path + "/data",
                        "--web.listen-address", "127.0.0.1:\(port)", "--log.level", "warn"]
                + (tls == nil ? [] : ["--web.config.file", directory.path + "/web.yml"]),
            logDirectory: directory.path)
        guard Wait.until(timeout: .seconds(60), interval: .milliseconds(200), {
            !(self.prometheus?.isRunning ?? false) || (try? self.get("/-/ready"))?.status == 200
        }), prometheus?.isRunning == true else {
            let log = prometheus?.stderr ?? ""
            stop()
            throw SupportError("Prometheus did not become ready on port \(port): \(log.suffix(2000))")
        }
    }

    /// Stops Prometheus only (the exporter keeps running).
    public func stopPrometheus() {
        prometheus?.stop(grace: .seconds(10))
        prometheus = nil
    }

    /// The sample values of an instant query (empty for an empty result).
    public func query(_ expr: String) throws -> [Double] {
        let encoded = expr.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? expr
        let r = try get("/api/v1/query?query=" + encoded)
        guard r.status == 200, let answer = try? JSONDecoder().decode(QueryAnswer.self, from: Data(r.body.utf8)) else {
            throw SupportError("query \(expr) failed: HTTP \(r.status) \(r.body.prefix(300))")
        }
        return answer.data.result.compactMap(\.value)
    }

    /// The parts of a `/api/v1/query` answer the fixture reads: `data.result[].value`, `[time, "number"]`.
    private struct QueryAnswer: Decodable {
        struct Result: Decodable { let result: [Sample] }
        struct Sample: Decodable {
            let value: Double?
            enum CodingKeys: String, CodingKey { case value }
            init(from decoder: any Decoder) throws {
                var pair = try decoder.container(keyedBy: CodingKeys.self).nestedUnkeyedContainer(forKey: .value)
                _ = try pair.decode(Double.self)   // the evaluation time
                value = Double(try pair.decode(String.self))
            }
        }
        let data: Result
    }

    /// `GET path` (over HTTPS without verifying: the fixture's own check, not what is under test).
    func get(_ path: String) throws -> (status: Int, body: String) {
        guard tls != nil else { return try HTTPGet.text(url + path, timeout: .seconds(5)) }
        let r = try Command.run("/usr/bin/curl", ["-s", "-k", "-m", "5", "-w", "\n%{http_code}", url + path], timeout: .seconds(10))
        guard r.status == 0 else { throw SupportError("curl \(url + path) failed (\(r.status)): \(r.stderr)") }
        var lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.popLast() ?? "") ?? 0
        return (status, lines.joined(separator: "\n"))
    }

    /// Stops Prometheus and the exporter.
    public func stop() {
        stopPrometheus()
        exporter?.stop(grace: .seconds(5))
        exporter = nil
    }

    deinit { stop() }
}
