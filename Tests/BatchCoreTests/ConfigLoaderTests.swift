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
        c.reminders.expiringBefore = [.hours(36), .minutes(90)]
        c.webhook.format = .json
        for config in [BatchConfig.defaults, c] {
            let yaml = config.renderYAML(secrets: Secrets())
            #expect(try ConfigLoader.load(yaml: yaml, source: "rendered") == config)
        }
    }

    @Test func keysLeftOutKeepTheirDefaults() throws {
        let c = try ConfigLoader.load(yaml: """
            namespace: batch-jobs
            rampUp: {step: 3}
            celery: {globalKeyPrefix: "app:", prioritySteps: [0, 5]}
            queues: [{name: nightly}]
            """, source: "partial.yaml")
        #expect(c.namespace == "batch-jobs")
        #expect(c.rampUp == RampUp(step: 3, every: .seconds(30)))
        #expect(c.celery == CeleryLayout(globalKeyPrefix: "app:", separator: "\u{06}\u{16}", prioritySteps: [0, 5]))
        #expect(c.queues == [QueueConfig(name: "nightly", deployment: "celery-nightly")])
        #expect(c.bands == BatchConfig.defaults.bands)
    }

    @Test func bandMinDefaultsToThePreviousMaxPlusOne() throws {
        let c = try ConfigLoader.load(yaml: """
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
        let c = try ConfigLoader.load(yaml: "reminders: {expiringBefore: [1h, 2d, 30m]}", source: "r.yaml")
        #expect(c.reminders.expiringBefore == [.days(2), .hours(1), .minutes(30)])
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
                      #"celery: {separator: "NULL"}"#, #"queues: [{name: "null", deployment: "null"}]"#])
    func renderedNullWordsStayText(_ yaml: String) throws {
        let c = try ConfigLoader.load(yaml: yaml, source: "n.yaml")
        #expect(c != BatchConfig.defaults)
        #expect(try ConfigLoader.load(yaml: c.renderYAML(secrets: Secrets()), source: "rendered.yaml") == c)
    }

    /// Broken configurations and the exact problem lines they produce.
    @Test(arguments: [
        // unknown keys, at the top and nested
        ("idleAftr: 5m", ["idleAftr: unknown key; did you mean idleAfter?"]),
        ("redis: {url: redis://r:6379/0, timeout: 2s}", ["redis.timeout: unknown key; known keys here are url, connectTimeout, commandTimeout"]),
        ("queues: [{name: batch0, replicas: 3}]", ["queues[0].replicas: unknown key; known keys here are name, deployment"]),
        // wrong types
        ("pollInterval: [1s]", ["pollInterval: must be a duration such as 30s, 15m or 1d12h, not a list"]),
        ("totalReplicaBudget: lots", ["totalReplicaBudget: \"lots\" must be a whole number"]),
        ("redis: redis://r:6379", ["redis: must be a mapping of url, connectTimeout, commandTimeout, not \"redis://r:6379\""]),
        ("queues: batch0", ["queues: must be a list of queues, each with a name and a deployment, not \"batch0\""]),
        ("bands: [{name: small, max: 5, requiresApproval: maybe}]", ["bands[0].requiresApproval: \"maybe\" must be true or false"]),
        ("- just\n- a list", ["the top level must be a mapping of namespace, redis, celery, queues, pollInterval, bands, rampUp, idleAfter, totalReplicaBudget, tasksPerReplica, busyWorkerGrace, busyAware, reservations, reminders, queueDepth, webhook, not a list"]),
        // bands
        ("bands:\n- {name: small, max: 5}\n- {name: medium, max: 10}\n- {name: big, max: 8, requiresApproval: true}",
         ["bands[2].max: 8 must be greater than bands[1].max (10)"]),
        ("bands:\n- {name: small, min: 1, max: 5}\n- {name: medium, min: 4, max: 10}",
         ["bands[1].min: 4 overlaps bands[0] (1-5); it must be 6"]),
        ("bands:\n- {name: small, min: 1, max: 5}\n- {name: medium, min: 8, max: 10}",
         ["bands[1].min: 8 leaves a gap after bands[0] (1-5); it must be 6"]),
        ("bands:\n- {name: small, min: 2, max: 5}", ["bands[0].min: 2 must be 1: bands start at one replica"]),
        ("bands:\n- {name: small, max: 5}\n- {name: small, max: 9}", ["bands[1].name: \"small\" is already used by bands[0]; band names must be unique"]),
        ("bands:\n- {name: small, max: 5, requiresApproval: true}\n- {name: big, max: 9}",
         ["bands[1].requiresApproval: false, but the smaller band \"small\" requires approval; larger bands must too"]),
        ("bands: []", ["bands: must list at least one band, such as {name: small, max: 5}"]),
        ("bands: [{name: small}]", ["bands[0]: has no max, the largest replica count in the band"]),
        ("bands: [{name: Small, max: 5}]", ["bands[0].name: \"Small\" may contain only lowercase letters, digits and '-'"]),
        // durations
        ("pollInterval: -5s", ["pollInterval: \"-5s\" is negative; durations must be zero or more"]),
        ("idleAfter: 0s", ["idleAfter: 0s must be longer than 0s"]),
        ("pollInterval: 10ms", ["pollInterval: 10ms must be at least 100ms"]),
        ("busyWorkerGrace: 1 hour", ["busyWorkerGrace: \"1 hour\" is not a duration; write a number then a unit (ms, s, m, h, d, w), such as 90s or 1d12h"]),
        ("busyAware: maybe", ["busyAware: \"maybe\" must be true or false"]),
        ("rampUp: {every: 30}", ["rampUp.every: \"30\" has no unit; write 30s, 30m, 30h or 30d"]),
        ("reservations: {defaultDuration: 3d, maxDuration: 1d}", ["reservations.maxDuration: 1d must be at least reservations.defaultDuration (3d)"]),
        ("reminders: {expiringBefore: [1h, 60m]}", ["reminders.expiringBefore[1]: 1h is already listed at reminders.expiringBefore[0]"]),
        ("reminders: {expiringBefore: [30d]}", ["reminders.expiringBefore: 30d must be shorter than reservations.maxDuration (2w), or the reminder could never fire"]),
        // redis
        ("redis: {url: \"rediss://r:6379\"}", ["redis.url: \"rediss://r:6379\" uses TLS, which batchctl's Redis client (hiredis 0.14) cannot speak; run a TLS sidecar such as stunnel or ghostunnel next to the controller and point batchctl at its plain local port, e.g. redis://127.0.0.1:6380/0 (see RUNBOOK.md, \"Redis over TLS\")"]),
        ("redis: {url: \"redis://r:99999\"}", ["redis.url: \"redis://r:99999\" has an invalid port \"99999\"; use a number from 1 to 65535"]),
        ("redis: {url: \"redis://:hunter2@r:6379/0\"}", ["redis.url: redis://:***@r:6379/0 contains a password; secrets do not belong in the config file: remove it and set REDIS_PASSWORD or REDIS_PASSWORD_FILE"]),
        ("redis: {connectTimeout: 5m}", ["redis.connectTimeout: 5m must be at most 1m"]),
        // queues
        ("queues: [{name: batch0}, {name: batch0, deployment: other}]", ["queues[1].name: \"batch0\" is already used by queues[0]; queue names must be unique"]),
        ("queues: [{name: a, deployment: d}, {name: b, deployment: d}]", ["queues[1].deployment: \"d\" is already used by queues[0]; each queue needs its own Deployment"]),
        ("queues: [{name: Batch_0}]", ["queues[0].name: \"Batch_0\" may contain only lowercase letters, digits and '-' (a queue name is also a Kubernetes object name)"]),
        ("queues: [{deployment: celery-x}]", ["queues[0]: has no name; every queue needs one, such as name: batch0"]),
        ("queues: []", ["queues: must list at least one queue"]),
        ("celery: {separator: \"-\"}\nqueues: [{name: my-queue}]", ["queues[0].name: \"my-queue\" contains celery.separator; kombu could not tell the queue from its priority lists"]),
        // celery layout
        ("celery: {prioritySteps: [0, 6, 3]}", ["celery.prioritySteps[2]: 3 must be greater than celery.prioritySteps[1] (6); list the steps in increasing order"]),
        ("celery: {prioritySteps: [3, 6, 9]}", ["celery.prioritySteps[0]: 3 must be 0: kombu keeps priority 0 in the bare queue name"]),
        ("celery: {prioritySteps: [0, 12]}", ["celery.prioritySteps[1]: 12 must be at most 9"]),
        ("celery: {separator: \"\"}", ["celery.separator: must not be empty; kombu's default is \"\\x06\\x16\""]),
        // numbers and enums
        ("totalReplicaBudget: 0", ["totalReplicaBudget: 0 must be at least 1"]),
        ("totalReplicaBudget: 3", ["totalReplicaBudget: 3 must be at least bands[0].max (5), or even a small claim could not get its replicas"]),
        ("queueDepth: {good: 500, fine: 100}", ["queueDepth.fine: 100 must be greater than queueDepth.good (500)"]),
        ("reminders: {redisMemoryHighPercent: 120}", ["reminders.redisMemoryHighPercent: 120 must be at most 100"]),
        ("webhook: {format: teams}", ["webhook.format: \"teams\" must be one of slack, json"]),
        ("webhook: {url: \"https://hooks.example/x\"}", ["webhook.url: the webhook URL is a secret and does not belong in the config file: remove it and set BATCHCTL_WEBHOOK_URL or BATCHCTL_WEBHOOK_URL_FILE"]),
        ("namespace: Court_Listener", ["namespace: \"Court_Listener\" may contain only lowercase letters, digits and '-'"]),
        // several problems at once are all reported
        ("idleAfter: soon\ntasksPerReplica: -1\nwebhook: {retries: 99}",
         ["idleAfter: \"soon\" is not a duration; write a number then a unit (ms, s, m, h, d, w), such as 90s or 1d12h",
          "tasksPerReplica: -1 must be at least 0", "webhook.retries: 99 must be at most 10"]),
    ])
    func brokenConfigurationsNameTheKeyPath(_ yaml: String, _ expected: [String]) {
        do {
            _ = try ConfigLoader.load(yaml: yaml, source: "broken.yaml")
            Issue.record("expected \(expected) for:\n\(yaml)")
        } catch {
            #expect(error.problems.map(\.description) == expected)
            #expect(error.kind == .badInput)
            #expect(error.source == "broken.yaml")
        }
    }

    @Test(arguments: [
        ("namespace: [", "is not valid YAML: "),
        ("a: 1\na: 2", "is not valid YAML: "),
        ("\tnamespace: x", "is not valid YAML: "),
    ])
    func yamlSyntaxErrorsSayWhere(_ yaml: String, _ prefix: String) {
        do {
            _ = try ConfigLoader.load(yaml: yaml, source: "syntax.yaml")
            Issue.record("expected a YAML error")
        } catch {
            #expect(error.problems.count == 1)
            #expect(error.problems[0].message.hasPrefix(prefix))
        }
    }

    @Test func theErrorListsEveryProblemOnItsOwnLine() {
        let error = ConfigError(source: "x.yaml", problems: [ConfigProblem(path: "a", message: "bad"), ConfigProblem(path: "b.c", message: "worse")])
        #expect(error.description == "x.yaml is not a valid batchctl configuration (2 problems):\n  a: bad\n  b.c: worse")
    }
}
