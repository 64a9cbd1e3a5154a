import Testing
@testable import BatchCore

/// `spec.guards` of a BatchQueuePolicy and `prometheus` of the configuration file, as `config validate` and the
/// controller read them.
@Suite struct GuardConfigTests {
    @Test func guardsAndStepBackAfterAreRead() throws {
        let policy = try ConfigLoader.loadPolicy(yaml: """
            rampUp: {step: 1, every: 10s, stepBackAfter: 90s}
            guards:
              - name: db
                expr: sum(pg_stat_activity_count{datname="app"}) < 80
                for: 30s
              - {name: redis-memory, expr: "redis_memory_used_bytes / redis_memory_max_bytes < 0.8"}
            """, source: "policy.yaml")
        #expect(policy.guards == [Guard(name: "db", expr: #"sum(pg_stat_activity_count{datname="app"}) < 80"#, forDuration: .seconds(30)),
                                  Guard(name: "redis-memory", expr: "redis_memory_used_bytes / redis_memory_max_bytes < 0.8")])
        #expect(policy.rampUp == RampUp(step: 1, every: .seconds(10), stepBackAfter: .seconds(90)))
        #expect(QueuePolicy.defaults.guards.isEmpty)
    }

    @Test(arguments: [
        ("guards: [{name: db, expr: \"  \"}]", "spec.guards[0].expr", #"guard "db": is empty"#),
        ("guards: [{name: db, expr: up, forr: 1m}]", "spec.guards[0].forr", #"guard "db": unknown key; did you mean for?"#),
        ("guards: [{name: db}]", "spec.guards[0].expr", #"guard "db": is required"#),
        ("guards: [{expr: up}]", "spec.guards[0].name", "guard spec.guards[0]: is required"),
        ("guards: [{name: db, expr: up}, {name: db, expr: up}]", "spec.guards[1].name", #"guard "db": "db" is already the name"#),
        ("guards: [{name: Big_DB, expr: up}]", "spec.guards[0].name", #"guard "Big_DB": "Big_DB""#),
        ("guards: [{name: db, expr: up, for: 1d}]", "spec.guards[0].for", #"guard "db": "1d" uses d or w"#),
        ("rampUp: {stepBackAfter: 0s}", "spec.rampUp.stepBackAfter", "0s must be at least"),
    ])
    func malformedGuardsAreRefusedNamingTheGuard(_ c: (yaml: String, path: String, message: String)) {
        Self.expectRefused(c) { yaml throws(ConfigError) in _ = try ConfigLoader.loadPolicy(yaml: yaml, source: "policy.yaml") }
    }

    /// `load(c.yaml)` throws a problem at `c.path` whose message starts with `c.message`; returns the error.
    @discardableResult
    static func expectRefused(_ c: (yaml: String, path: String, message: String),
                              _ load: (String) throws(ConfigError) -> Void) -> ConfigError? {
        do {
            try load(c.yaml)
            Issue.record("\(c.yaml) was accepted")
            return nil
        } catch {
            #expect(error.problems.contains { $0.path == c.path && $0.message.hasPrefix(c.message) }, "\(error.problems)")
            return error
        }
    }

    @Test func prometheusSettingsAreRead() throws {
        let config = try ConfigLoader.load(yaml: """
            prometheus: {url: "https://prom.example.org:9090/prometheus/", caFile: /etc/ca.pem, tokenFile: /run/token, timeout: 1500ms}
            """, source: "batchctl.yaml")
        #expect(config.prometheus == PrometheusSettings(url: "https://prom.example.org:9090/prometheus", caFile: "/etc/ca.pem",
                                                        tokenFile: "/run/token", timeout: .milliseconds(1500)))
        #expect(BatchConfig.defaults.prometheus == nil)
    }

    @Test(arguments: [
        ("prometheus: {url: \"https://user:secret@prom:9090\"}", "prometheus.url", "contains credentials"),
        ("prometheus: {url: \"prom:9090\"}", "prometheus.url", "must be an http:// or https:// URL"),
        ("prometheus: {caFile: /etc/ca.pem}", "prometheus.url", "is required"),
        ("prometheus: {url: \"http://prom:9090\", token: abc}", "prometheus.token", "unknown key"),
    ])
    func badPrometheusSettingsAreRefused(_ c: (yaml: String, path: String, message: String)) {
        let error = Self.expectRefused(c) { yaml throws(ConfigError) in _ = try ConfigLoader.load(yaml: yaml, source: "batchctl.yaml") }
        #expect(error.map { !$0.description.contains("user:secret") } ?? true)
    }
}
