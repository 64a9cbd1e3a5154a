import YAML

extension BatchConfig {
    /// The configuration as YAML that `ConfigLoader` reads back to the same value, followed by a
    /// comment saying which secrets are set and where from (never their values).
    public func renderYAML(secrets: Secrets) -> String {
        func s(_ v: String) -> Node { .string(v) }
        func n(_ v: Int) -> Node { .plain(String(v)) }
        func d(_ v: TimeSpan) -> Node { .string(v.description) }
        func b(_ v: Bool) -> Node { .plain(v ? "true" : "false") }
        func map(_ pairs: [(String, Node)]) -> Node { .mapping(pairs) }
        func flow(_ items: [Node]) -> Node { .sequence(items, flow: true) }

        let root = map([
            ("namespace", s(namespace)),
            ("redis", map([("url", s(redis.url.description)), ("connectTimeout", d(redis.connectTimeout)),
                           ("commandTimeout", d(redis.commandTimeout))])),
            ("celery", map([("globalKeyPrefix", s(celery.globalKeyPrefix)), ("separator", s(celery.separator)),
                            ("prioritySteps", flow(celery.prioritySteps.map(n))),
                            ("visibilityTimeout", d(celery.visibilityTimeout))])),
            ("queues", .sequence(queues.map { map([("name", s($0.name)), ("deployment", s($0.deployment))]) })),
            ("pollInterval", d(pollInterval)),
            ("bands", .sequence(bands.map { map([("name", s($0.name)), ("min", n($0.min)), ("max", n($0.max)),
                                            ("requiresApproval", b($0.requiresApproval))]) })),
            ("rampUp", map([("step", n(rampUp.step)), ("every", d(rampUp.every))])),
            ("idleAfter", d(idleAfter)),
            ("totalReplicaBudget", n(totalReplicaBudget)),
            ("tasksPerReplica", n(tasksPerReplica)),
            ("busyWorkerGrace", d(busyWorkerGrace)),
            ("busyAware", b(busyAware)),
            ("reservations", map([("defaultDuration", d(reservations.defaultDuration)), ("maxDuration", d(reservations.maxDuration))])),
            ("reminders", map([("expiringBefore", flow(reminders.expiringBefore.map(d))), ("idleEvery", d(reminders.idleEvery)),
                               ("orphanedEvery", d(reminders.orphanedEvery)),
                               ("redisMemoryHighPercent", n(reminders.redisMemoryHighPercent))])),
            ("queueDepth", map([("good", n(queueDepth.good)), ("fine", n(queueDepth.fine)), ("careful", n(queueDepth.careful))])),
            ("webhook", map([("format", s(webhook.format.rawValue)), ("timeout", d(webhook.timeout)), ("retries", n(webhook.retries))])),
        ])
        let body = YAMLEmitter.emit(root)
        let secretLines = [
            "#   redis password: \(secrets.redisPassword?.description ?? "not set (REDIS_PASSWORD or REDIS_PASSWORD_FILE)")",
            "#   webhook URL:    \(secrets.webhookURL?.description ?? "not set (BATCHCTL_WEBHOOK_URL or BATCHCTL_WEBHOOK_URL_FILE)")",
        ]
        return body + "# secrets (from the environment, never from the config file):\n" + secretLines.joined(separator: "\n") + "\n"
    }
}
