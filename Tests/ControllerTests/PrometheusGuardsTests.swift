import Testing
@testable import BatchCore
@testable import Controller

/// Prometheus's answers are untrusted: only a well-formed vector is read; anything else is an unknown guard
/// with a reason a person can act on (the real server is in ControllerIntegrationTests/GuardIntegrationTests).
@Suite struct PrometheusGuardsTests {
    @Test(arguments: [
        (#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"instance":"r:9121"},"value":[1700000000.5,"42"]}]}}"#, "healthy 42"),
        (#"{"status":"success","data":{"resultType":"vector","result":[]}}"#, "failing"),
        (#"{"status":"success","data":{"resultType":"scalar","result":[1700000000.5,"1"]}}"#, "unknown: the expression returns a scalar, not a vector"),
        (#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#, "unknown: the query failed: parse error at char 5"),
        (#"{"status":"success","data":{"resultType":"vector","result":[{"value":"nope"}]}}"#, "unknown: Prometheus's answer is not a query result"),
        ("<html>502 Bad Gateway</html>", "unknown: Prometheus's answer is not a query result"),
        ("", "unknown: Prometheus's answer is not a query result"),
    ])
    func answersAreReadAsHealthyFailingOrUnknown(_ c: (body: String, expected: String)) {
        let reading = PrometheusGuards.reading(fromBody: Array(c.body.utf8))
        let text: String
        switch reading {
        case let .healthy(value): text = "healthy \(GuardReading.text(value))"
        case .failing: text = "failing"
        case let .unknown(reason): text = "unknown: \(reason)"
        }
        #expect(text.hasPrefix(c.expected), "\(text)")
    }

    @Test func anOversizedAnswerIsUnknownNotDecoded() {
        let big = [UInt8](repeating: UInt8(ascii: " "), count: PrometheusGuards.maxResponseBytes + 1)
        guard case let .unknown(reason) = PrometheusGuards.reading(fromBody: big) else {
            Issue.record("an oversized answer was read")
            return
        }
        #expect(reason.contains("more than \(PrometheusGuards.maxResponseBytes) bytes"))
    }

    @Test func anUnreachablePrometheusIsUnknownAndNamed() async throws {
        let guards = try PrometheusGuards(settings: PrometheusSettings(url: "http://127.0.0.1:1/prefix", timeout: .seconds(1)))
        let readings = await guards.read([Guard(name: "db", expr: "up"), Guard(name: "redis", expr: "redis_up"), Guard(name: "same", expr: "up")],
                                         timeout: .seconds(1))
        #expect(readings.count == 2)   // by expression: "up" once
        guard case let .unknown(reason)? = readings["up"] else {
            Issue.record("\(readings)")
            return
        }
        #expect(reason.hasPrefix("Prometheus unreachable at http://127.0.0.1:1: cannot connect"), "\(reason)")
    }

    @Test func anUnreadableCAFileIsAConfigErrorNamingTheKey() {
        #expect(throws: ConfigError.self) { try PrometheusGuards(settings: PrometheusSettings(url: "https://p:9090", caFile: "/nonexistent/ca.pem")) }
    }
}
