import Foundation
import Testing
@testable import BatchCore

@Suite struct ConfigLoaderTests {
    static let defaultFile = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("config/batchctl.yaml").path

    @Test func theShippedFileEqualsTheEmbeddedDefaults() throws {
        let text = try String(contentsOfFile: Self.defaultFile, encoding: .utf8)
        #expect(try ConfigLoader.load(yaml: text, source: "config/batchctl.yaml") == BatchConfig.defaults)
    }

    @Test func anEmptyFileMeansTheDefaults() throws {
        #expect(try ConfigLoader.load(yaml: "", source: "empty.yaml") == BatchConfig.defaults)
        #expect(try ConfigLoader.load(yaml: "# only a comment\n", source: "c.yaml") == BatchConfig.defaults)
    }

    @Test func renderedYAMLLoadsBackToTheSameValue() throws {
        var c = BatchConfig.defaults
        c.celery = CeleryLayout(globalKeyPrefix: "pfx:", separator: ":", prioritySteps: Array(0...9), visibilityTimeout: .hours(6))
        c.redis.url = try RedisURL.parse("unix:///run/redis.sock?db=3")
        c.webhook.format = .json
        c.prometheus = PrometheusSettings(url: "https://prom.example.org:9090/p", caFile: "/etc/ca.pem", tokenFile: "/run/token", timeout: .milliseconds(1500))
        for config in [BatchConfig.defaults, c] {
            let yaml = config.renderYAML(secrets: Secrets())
            #expect(try ConfigLoader.load(yaml: yaml, source: "rendered") == config)
        }
    }

    @Test func keysLeftOutKeepTheirDefaults() throws {
        let c = try ConfigLoader.load(yaml: """
            namespace: batch-jobs
            celery: {globalKeyPrefix: "app:", prioritySteps: [0, 5]}
            """, source: "partial.yaml")
        #expect(c.namespace == "batch-jobs")
        #expect(c.celery == CeleryLayout(globalKeyPrefix: "app:", separator: "\u{06}\u{16}", prioritySteps: [0, 5]))
        #expect(c.pollInterval == BatchConfig.defaults.pollInterval)
        let p = try ConfigLoader.loadPolicy(yaml: "rampUp: {step: 3}", source: "policy")
        #expect(p.rampUp == RampUp(step: 3, every: .seconds(30)))
        #expect(p.bands == QueuePolicy.defaults.bands)
    }

    @Test func bandMinDefaultsToThePreviousMaxPlusOne() throws {
        let c = try ConfigLoader.loadPolicy(yaml: """
            bands:
            - {name: small, max: 3}
            - {name: large, max: 12, requiresApproval: true}
            """, source: "b.yaml")
        #expect(c.bands == [Band(name: "small", min: 1, max: 3, requiresApproval: false),
                            Band(name: "large", min: 4, max: 12, requiresApproval: true)])
        #expect(c.band(for: 4)?.name == "large")
        #expect(c.band(for: 0) == nil)
        #expect(c.band(for: 13) == nil)
    }

    @Test func reminderThresholdsAreSortedLargestFirst() throws {
        let c = try ConfigLoader.loadPolicy(yaml: "reminders: {expiringBefore: [1h, 48h, 30m]}", source: "r.yaml")
        #expect(c.reminders.expiringBefore == [.days(2), .hours(1), .minutes(30)])
    }

    @Test func sentinelConfigurationMirrorsCelerysBrokerSettings() throws {
        let c = try ConfigLoader.load(yaml: """
            redis:
              url: sentinel://10.0.0.1:26379/2;sentinel://10.0.0.2;sentinel://[::1]:26380
              masterName: mymaster
            """, source: "s.yaml")
        let sentinel = try #require(c.redis.sentinel)
        #expect(sentinel.masterName == "mymaster")
        #expect(sentinel.url.sentinels == [SentinelURL.Address(host: "10.0.0.1", port: 26379), SentinelURL.Address(host: "10.0.0.2", port: 26379),
                                           SentinelURL.Address(host: "::1", port: 26380)])
        #expect(c.redis.url.database == 2)
        #expect(c.redis.displayURL == "sentinel://10.0.0.1:26379/2;sentinel://10.0.0.2:26379;sentinel://[::1]:26380 (master mymaster)")
        #expect(try ConfigLoader.load(yaml: c.renderYAML(secrets: Secrets()), source: "rendered.yaml") == c)
        // A later redis:// URL turns Sentinel off again.
        #expect(try ConfigLoader.load(yaml: "redis: {url: \"redis://r:6379/0\"}", source: "r.yaml").redis.sentinel == nil)
    }

    @Test func commandLineOverridesForSentinel() throws {
        let base = BatchConfig.defaults.redis
        let s = try RedisSettings.overriding(base, url: "sentinel://:pw@127.0.0.1:26379/1;sentinel://127.0.0.1:26380", masterName: "m1")
        #expect(s.sentinel?.masterName == "m1")
        #expect(s.url.password == "pw")
        #expect(s.url.database == 1)
        #expect(throws: ConfigError.self) { try RedisSettings.overriding(base, url: "sentinel://127.0.0.1:26379", masterName: nil) }
        #expect(throws: ConfigError.self) { try RedisSettings.overriding(base, url: nil, masterName: "m1") }
        #expect(throws: ConfigError.self) { try RedisSettings.overriding(base, url: "redis://r:6379", masterName: "m1") }
        // A master name alone switches the configured sentinels to another master.
        let renamed = try RedisSettings.overriding(s, url: nil, masterName: "m2")
        #expect(renamed.sentinel?.masterName == "m2")
        #expect(renamed.sentinel?.url == s.sentinel?.url)
    }

    @Test func busyAwarenessCanBeSwitchedOffForComparisons() throws {
        #expect(BatchConfig.defaults.busyAware)
        let c = try ConfigLoader.load(yaml: "busyAware: false", source: "k.yaml")
        #expect(!c.busyAware)
        #expect(try ConfigLoader.load(yaml: c.renderYAML(secrets: Secrets()), source: "rendered.yaml") == c)
    }

    /// Found by `make fuzz` (config-loader's check that a loaded configuration renders as YAML that loads back the
    /// same): a quoted `"null"` or `"~"` is text, but `renderYAML` wrote it plain, which reads as "not set".
    @Test(arguments: [#"namespace: "null""#, #"celery: {globalKeyPrefix: "~"}"#, #"celery: {globalKeyPrefix: "Null"}"#,
                      #"celery: {separator: "NULL"}"#])
    func renderedNullWordsStayText(_ yaml: String) throws {
        let c = try ConfigLoader.load(yaml: yaml, source: "n.yaml")
        #expect(c != BatchConfig.defaults)
        #expect(try ConfigLoader.load(yaml: c.renderYAML(secrets: Secrets()), source: "rendered.yaml") == c)
    }

    /// Broken configurations and the exact problem lines they produce.
    @Test(arguments: [
        // unknown keys, at the top and nested
        ("pollIntervl: 5s", ["pollIntervl: unknown key; did you mean pollInterval?"]),
        ("redis: {url: redis://r:6379/0, timeout: 2s}", ["redis.timeout: unknown key; known keys here are url, masterName, connectTimeout, commandTimeout"]),
        // wrong types
        ("pollInterval: [1s]", ["pollInterval: must be a duration such as 30s, 15m or 1d12h, not a list"]),
        ("tasksPerReplica: lots", ["tasksPerReplica: \"lots\" must be a whole number"]),
        ("redis: redis://r:6379", ["redis: must be a mapping of url, masterName, connectTimeout, commandTimeout, not \"redis://r:6379\""]),
        ("- just\n- a list", ["the top level must be a mapping of namespace, redis, celery, pollInterval, tasksPerReplica, busyAware, webhook, prometheus, not a list"]),
        // durations
        ("pollInterval: -5s", ["pollInterval: \"-5s\" is negative; durations must be zero or more"]),
        ("pollInterval: 10ms", ["pollInterval: 10ms must be at least 100ms"]),
        ("busyAware: maybe", ["busyAware: \"maybe\" must be true or false"]),
        // redis
        ("redis: {url: \"rediss://r:6379\"}", ["redis.url: \"rediss://r:6379\" uses TLS, which batchctl's Redis client (hiredis 0.14) cannot speak; run a TLS sidecar such as stunnel or ghostunnel next to the controller and point batchctl at its plain local port, e.g. redis://127.0.0.1:6380/0 (see RUNBOOK.md, \"Redis over TLS\")"]),
        ("redis: {url: \"redis://r:99999\"}", ["redis.url: \"redis://r:99999\" has an invalid port \"99999\"; use a number from 1 to 65535"]),
        ("redis: {url: \"redis://:hunter2@r:6379/0\"}", ["redis.url: redis://:***@r:6379/0 contains a password; secrets do not belong in the config file: remove it and set REDIS_PASSWORD or REDIS_PASSWORD_FILE"]),
        ("redis: {connectTimeout: 5m}", ["redis.connectTimeout: 5m must be at most 1m"]),
        // redis behind Sentinel
        ("redis: {url: \"sentinel://s1:26379;sentinel://s2:26379\"}", ["redis.masterName: is required with a sentinel:// URL: give the name the sentinels monitor, as in Celery's broker_transport_options = {'master_name': 'mymaster'}"]),
        ("redis: {url: \"redis://r:6379/0\", masterName: mymaster}", ["redis.masterName: is set, but redis.url is not a sentinel:// URL; remove masterName, or list the sentinels in redis.url as Celery's broker_url does: sentinel://s1:26379;sentinel://s2:26379"]),
        ("redis: {url: \"sentinel://:hunter2@s1:26379/0;sentinel://s2\", masterName: mymaster}", ["redis.url: sentinel://:***@s1:26379/0;sentinel://s2 contains a password; secrets do not belong in the config file: remove it and set REDIS_PASSWORD or REDIS_PASSWORD_FILE (the sentinels' own password: REDIS_SENTINEL_PASSWORD or REDIS_SENTINEL_PASSWORD_FILE)"]),
        ("redis: {url: \"sentinel://s1:26379;redis://r:6379\", masterName: mymaster}", ["redis.url: \"sentinel://s1:26379;redis://r:6379\" has \"redis://r:6379\" as sentinel 2, which is not a sentinel:// URL; every entry must be one, e.g. sentinel://s1:26379;sentinel://s2:26379"]),
        ("redis: {url: \"sentinel://s1:26379;sentinel://s1:26379\", masterName: mymaster}", ["redis.url: \"sentinel://s1:26379;sentinel://s1:26379\" lists the sentinel s1:26379 twice; list each sentinel once"]),
        ("redis: {url: \"sentinel://s1:26379;;sentinel://s2\", masterName: mymaster}", ["redis.url: \"sentinel://s1:26379;;sentinel://s2\" has an empty entry (sentinel 2); separate sentinel URLs with a single ';', e.g. sentinel://s1:26379;sentinel://s2:26379"]),
        ("redis: {url: \"sentinel://s1:99999\", masterName: mymaster}", ["redis.url: \"sentinel://s1:99999\" (sentinel 1) has an invalid port \"99999\"; use a number from 1 to 65535"]),
        ("redis: {url: \"sentinel://s1;sentinel://s2/3\", masterName: mymaster}", ["redis.url: \"sentinel://s1;sentinel://s2/3\" has a database or credentials in sentinel 2; Celery (kombu) reads them from the first URL only, so write them there: sentinel://:password@s1:26379/0;sentinel://s2:26379"]),
        ("redis: {url: \"sentinel://s1\", masterName: \"my master\"}", ["redis.masterName: \"my master\" contains a space or a control character; use the name from the sentinels' `sentinel monitor` line"]),
        ("redis: {url: \"sentinel://s1\", masterName: \"\"}", ["redis.masterName: is empty; give the name the sentinels monitor, as in Celery's broker_transport_options master_name (often mymaster)"]),
        // celery layout
        ("celery: {prioritySteps: [0, 6, 3]}", ["celery.prioritySteps[2]: 3 must be greater than celery.prioritySteps[1] (6); list the steps in increasing order"]),
        ("celery: {prioritySteps: [3, 6, 9]}", ["celery.prioritySteps[0]: 3 must be 0: kombu keeps priority 0 in the bare queue name"]),
        ("celery: {prioritySteps: [0, 12]}", ["celery.prioritySteps[1]: 12 must be at most 9"]),
        ("celery: {separator: \"\"}", ["celery.separator: must not be empty; kombu's default is \"\\x06\\x16\""]),
        // numbers and enums
        ("webhook: {format: teams}", ["webhook.format: \"teams\" must be one of slack, json"]),
        ("webhook: {url: \"https://hooks.example/x\"}", ["webhook.url: the webhook URL is a secret and does not belong in the config file: remove it and set BATCHCTL_WEBHOOK_URL or BATCHCTL_WEBHOOK_URL_FILE"]),
        ("namespace: Court_Listener", ["namespace: \"Court_Listener\" may contain only lowercase letters, digits and '-'"]),
        // keys that moved to the cluster say where they went
        ("idleAfter: 5m", ["idleAfter: moved to the cluster: set spec.idleAfter of the BatchQueuePolicy named default in the namespace (kubectl edit batchqueuepolicy default) and delete it here (RUNBOOK.md, \"Upgrading from the config-file layout\")"]),
        ("queues: [{name: batch0}]", ["queues: the queue set is the BatchQueue objects of the namespace now: delete this key, and add a queue with kubectl apply of its BatchQueue and Deployment (RUNBOOK.md, \"Adding a queue\"); the claim --any order is spec.claimOrder of the BatchQueuePolicy named default"]),
        // several problems at once are all reported
        ("pollInterval: soon\ntasksPerReplica: -1\nwebhook: {retries: 99}",
         ["pollInterval: \"soon\" is not a duration; write a number then a unit (ms, s, m, h, d, w), such as 90s or 1d12h",
          "tasksPerReplica: -1 must be at least 0", "webhook.retries: 99 must be at most 10"]),
    ])
    func brokenConfigurationsNameTheKeyPath(_ yaml: String, _ expected: [String]) {
        let error = #expect(throws: ConfigError.self, "expected \(expected) for:\n\(yaml)") {
            try ConfigLoader.load(yaml: yaml, source: "broken.yaml")
        }
        #expect(error?.problems.map(\.description) == expected)
        #expect(error?.kind == .badInput)
        #expect(error?.source == "broken.yaml")
    }

    @Test func everyMovedKeyIsRefusedWithWhereItWent() throws {
        for (key, now) in ConfigLoader.movedKeys {
            let error = #expect(throws: ConfigError.self, "\(key)") { try ConfigLoader.load(yaml: "\(key): null", source: "old.yaml") }
            #expect(error?.problems == [ConfigProblem(path: key, message: now)])
            #expect(now.contains("BatchQueuePolicy"))
        }
        #expect(Set(ConfigLoader.movedKeys.map(\.key)) == Set(QueuePolicy.keys).subtracting(["claimOrder"]).union(["queues"]))
    }

    /// Broken BatchQueuePolicy specs and the exact problem lines they produce, with their `spec.` paths.
    @Test(arguments: [
        ("idleAftr: 5m", ["spec.idleAftr: unknown key; did you mean idleAfter?"]),
        ("totalReplicaBudget: lots", ["spec.totalReplicaBudget: \"lots\" must be a whole number"]),
        ("bands: [{name: small, max: 5, requiresApproval: maybe}]", ["spec.bands[0].requiresApproval: \"maybe\" must be true or false"]),
        ("- just\n- a list", ["spec: must be a mapping of bands, rampUp, idleAfter, totalReplicaBudget, busyWorkerGrace, reservations, reminders, queueDepth, claimOrder, guards, not a list"]),
        ("bands:\n- {name: small, max: 5}\n- {name: medium, max: 10}\n- {name: big, max: 8, requiresApproval: true}",
         ["spec.bands[2].max: 8 must be greater than spec.bands[1].max (10)"]),
        ("bands:\n- {name: small, min: 1, max: 5}\n- {name: medium, min: 4, max: 10}",
         ["spec.bands[1].min: 4 overlaps spec.bands[0] (1-5); it must be 6"]),
        ("bands:\n- {name: small, min: 1, max: 5}\n- {name: medium, min: 8, max: 10}",
         ["spec.bands[1].min: 8 leaves a gap after spec.bands[0] (1-5); it must be 6"]),
        ("bands:\n- {name: small, min: 2, max: 5}", ["spec.bands[0].min: 2 must be 1: bands start at one replica"]),
        ("bands:\n- {name: small, max: 5}\n- {name: small, max: 9}", ["spec.bands[1].name: \"small\" is already used by spec.bands[0]; band names must be unique"]),
        ("bands:\n- {name: small, max: 5, requiresApproval: true}\n- {name: big, max: 9}",
         ["spec.bands[1].requiresApproval: false, but the smaller band \"small\" requires approval; larger bands must too"]),
        ("bands: []", ["spec.bands: must list at least one band, such as {name: small, max: 5}"]),
        ("bands: [{name: small}]", ["spec.bands[0]: has no max, the largest replica count in the band"]),
        ("bands: [{name: Small, max: 5}]", ["spec.bands[0].name: \"Small\" may contain only lowercase letters, digits and '-'"]),
        ("idleAfter: 0s", ["spec.idleAfter: 0s must be longer than 0s"]),
        ("busyWorkerGrace: 1 hour", ["spec.busyWorkerGrace: \"1 hour\" is not a duration; write a number then a unit (ms, s, m, h, d, w), such as 90s or 1d12h"]),
        ("rampUp: {every: 30}", ["spec.rampUp.every: \"30\" has no unit; write 30s, 30m, 30h or 30d"]),
        ("reservations: {maxDuration: 2w}", ["spec.reservations.maxDuration: \"2w\" uses d or w, which the API server's admission policy cannot read; write hours, such as 336h"]),
        ("reservations: {defaultDuration: 72h, maxDuration: 24h}", ["spec.reservations.maxDuration: 1d must be at least spec.reservations.defaultDuration (3d)"]),
        ("reminders: {expiringBefore: [1h, 60m]}", ["spec.reminders.expiringBefore[1]: 1h is already listed at spec.reminders.expiringBefore[0]"]),
        ("totalReplicaBudget: 0", ["spec.totalReplicaBudget: 0 must be at least 1"]),
        ("totalReplicaBudget: 3", ["spec.totalReplicaBudget: 3 must be at least spec.bands[0].max (5), or even a small claim could not get its replicas"]),
        ("queueDepth: {good: 500, fine: 100}", ["spec.queueDepth.fine: 100 must be greater than spec.queueDepth.good (500)"]),
        ("reminders: {redisMemoryHighPercent: 120}", ["spec.reminders.redisMemoryHighPercent: 120 must be at most 100"]),
        ("claimOrder: [batch1, batch1]", ["spec.claimOrder[1]: \"batch1\" is already listed at spec.claimOrder[0]"]),
        ("claimOrder: batch1", ["spec.claimOrder: must be a list of BatchQueue names, not \"batch1\""]),
    ])
    func brokenPoliciesNameTheSpecPath(_ yaml: String, _ expected: [String]) {
        let error = #expect(throws: ConfigError.self, "expected \(expected) for:\n\(yaml)") {
            try ConfigLoader.loadPolicy(yaml: yaml, source: "BatchQueuePolicy court-listener/default")
        }
        #expect(error?.problems.map(\.description) == expected)
        #expect(error?.description.hasPrefix("BatchQueuePolicy court-listener/default is not a valid BatchQueuePolicy") == true)
    }

    @Test(arguments: [
        ("namespace: [", "is not valid YAML: "),
        ("a: 1\na: 2", "is not valid YAML: "),
        ("\tnamespace: x", "is not valid YAML: "),
    ])
    func yamlSyntaxErrorsSayWhere(_ yaml: String, _ prefix: String) {
        let error = #expect(throws: ConfigError.self) { try ConfigLoader.load(yaml: yaml, source: "syntax.yaml") }
        #expect(error?.problems.count == 1)
        #expect(error?.problems.first?.message.hasPrefix(prefix) == true)
    }

    @Test func theErrorListsEveryProblemOnItsOwnLine() {
        let error = ConfigError(source: "x.yaml", problems: [ConfigProblem(path: "a", message: "bad"), ConfigProblem(path: "b.c", message: "worse")])
        #expect(error.description == "x.yaml is not a valid batchctl configuration (2 problems):\n  a: bad\n  b.c: worse")
    }
}
