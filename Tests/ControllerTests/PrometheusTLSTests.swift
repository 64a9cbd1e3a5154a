import BatchCore
import BatchTesting
import Controller
import Foundation
import Testing

/// Debian's prometheus and prometheus-redis-exporter are installed (`make deps`).
private let prometheusInstalled = ["/usr/bin/prometheus", "/usr/bin/prometheus-redis-exporter"].allSatisfy {
    FileManager.default.isExecutableFile(atPath: $0)
}

/// The guards' client verifies Prometheus's certificate: with prometheus.caFile it reads a real Prometheus
/// over HTTPS; without it (the system CAs, which did not sign the test certificate) the guard is unknown with
/// a reason naming TLS and prometheus.caFile, never read unverified.
@Suite(.serialized, .enabled(if: prometheusInstalled, "needs Debian's prometheus and prometheus-redis-exporter (make deps)"))
struct PrometheusTLSTests {
    func openssl(_ arguments: [String]) throws {
        let r = try Command.run("/usr/bin/openssl", arguments, timeout: .seconds(30))
        guard r.status == 0 else { throw SupportError("openssl \(arguments.first ?? "") failed: \(r.stderr)") }
    }

    @Test func anHTTPSPrometheusIsReadOnlyWithItsCA() async throws {
        let pki = try TemporaryDirectory(prefix: "pki")
        let p = { (name: String) in pki.path + "/" + name }
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", p("ca.key"),
                     "-out", p("ca.crt"), "-days", "2", "-subj", "/CN=test-ca"])
        try "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n".write(toFile: p("server.ext"), atomically: true, encoding: .utf8)
        try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", p("server.key"),
                     "-out", p("server.csr"), "-subj", "/CN=127.0.0.1"])
        try openssl(["x509", "-req", "-in", p("server.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial",
                     "-out", p("server.crt"), "-days", "2", "-extfile", p("server.ext")])
        let redis = try RedisServer()
        defer { redis.stop() }
        let prometheus = try PrometheusFixture(redisPort: redis.port, tls: (p("server.crt"), p("server.key")))
        defer { prometheus.stop() }
        let guards = [Guard(name: "redis-up", expr: "redis_up == 1")]

        let verified = try PrometheusGuards(settings: PrometheusSettings(url: prometheus.url, caFile: p("ca.crt"), timeout: .seconds(5)))
        #expect(await verified.read(guards, timeout: .seconds(5)) == ["redis_up == 1": .healthy(value: 1)])

        let unverified = try PrometheusGuards(settings: PrometheusSettings(url: prometheus.url, timeout: .seconds(5)))
        let reading = await unverified.read(guards, timeout: .seconds(5))["redis_up == 1"]
        guard case let .unknown(reason)? = reading else {
            Issue.record("read without the CA: \(String(describing: reading))")
            return
        }
        #expect(reason.contains("TLS failed; check the https URL and prometheus.caFile"), "\(reason)")
    }
}
