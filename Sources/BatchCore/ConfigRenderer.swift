import YAML

extension BatchConfig {
    /// The configuration as YAML that `ConfigLoader` reads back to the same value (the policy is not part of
    /// it: it lives in the cluster), followed by a comment saying which secrets are set and where from (never
    /// their values).
    public func renderYAML(secrets: Secrets) -> String {
        func s(_ v: String) -> Node { .string(v) }
        func n(_ v: Int) -> Node { .plain(String(v)) }
        func d(_ v: TimeSpan) -> Node { .string(v.description) }
        func b(_ v: Bool) -> Node { .plain(v ? "true" : "false") }
        func map(_ pairs: [(String, Node)]) -> Node { .mapping(pairs) }
        func flow(_ items: [Node]) -> Node { .sequence(items, flow: true) }

        // Behind Sentinel: Celery's sentinel:// list and the master name, as the loader reads them.
        var redisAddress: [(String, Node)] = [("url", s(redis.url.description))]
        if let sentinel = redis.sentinel {
            redisAddress = [("url", s(sentinel.url.description)), ("masterName", s(sentinel.masterName))]
        }
        var prometheusEntry: [(String, Node)] = []
        if let p = prometheus {
            let files = [("caFile", p.caFile), ("tokenFile", p.tokenFile)].compactMap { k, v in v.map { (k, s($0)) } }
            prometheusEntry = [("prometheus", map([("url", s(p.url))] + files + [("timeout", d(p.timeout))]))]
        }
        let root = map([
            ("namespace", s(namespace)),
            ("redis", map(redisAddress + [("connectTimeout", d(redis.connectTimeout)), ("commandTimeout", d(redis.commandTimeout))])),
            ("celery", map([("globalKeyPrefix", s(celery.globalKeyPrefix)), ("separator", s(celery.separator)),
                            ("prioritySteps", flow(celery.prioritySteps.map(n))),
                            ("visibilityTimeout", d(celery.visibilityTimeout))])),
            ("pollInterval", d(pollInterval)),
            ("tasksPerReplica", n(tasksPerReplica)),
            ("busyAware", b(busyAware)),
            ("webhook", map([("format", s(webhook.format.rawValue)), ("timeout", d(webhook.timeout)), ("retries", n(webhook.retries))])),
        ] + prometheusEntry)
        let body = YAMLEmitter.emit(root)
        let secretLines = [
            "#   redis password: \(secrets.redisPassword?.description ?? "not set (REDIS_PASSWORD or REDIS_PASSWORD_FILE)")",
            "#   sentinel password: \(secrets.sentinelPassword?.description ?? "not set (REDIS_SENTINEL_PASSWORD or REDIS_SENTINEL_PASSWORD_FILE)")",
            "#   webhook URL:    \(secrets.webhookURL?.description ?? "not set (BATCHCTL_WEBHOOK_URL or BATCHCTL_WEBHOOK_URL_FILE)")",
        ]
        return body + "# secrets (from the environment, never from the config file):\n" + secretLines.joined(separator: "\n") + "\n"
    }
}
