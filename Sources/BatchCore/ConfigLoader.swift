import MemberwiseInit
import YAML

/// One thing wrong with a configuration: the key path (`bands[2].max`) and what is wrong with it.
@MemberwiseInit(.public)
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    /// Where: a dotted key path with list indexes, such as `reminders.expiringBefore[1]`.
    public let path: String
    /// What: the value and the rule it breaks, such as `8 must be greater than bands[1].max (10)`.
    public let message: String
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// A configuration that cannot be used; lists every problem found, not only the first.
@MemberwiseInit(.public)
public struct ConfigError: BatchctlFailure, Equatable {
    /// The file (or `embedded defaults`) the problems were found in.
    public let source: String
    public let problems: [ConfigProblem]
    /// What the source should have been: `batchctl configuration` or `BatchQueuePolicy`.
    public var subject: String = "batchctl configuration"
    public var kind: FailureKind { .badInput }
    public var description: String {
        let count = problems.count == 1 ? "1 problem" : "\(problems.count) problems"
        return "\(source) is not a valid \(subject) (\(count)):\n"
            + problems.map { "  \($0)" }.joined(separator: "\n")
    }
}

/// Reads batchctl's YAML configuration into a validated `BatchConfig`.
///
/// Keys left out keep their default from `BatchConfig.defaults`; unknown keys, wrong types and values
/// that break a rule are all reported together, each with its key path.
public enum ConfigLoader {
    /// Parses and validates `yaml`.
    /// - Parameters:
    ///   - yaml: the file's text.
    ///   - source: the file name, used in the error.
    /// - Throws: `ConfigError` listing every problem.
    public static func load(yaml: String, source: String) throws(ConfigError) -> BatchConfig {
        var reader = Reader()
        let root: Node?
        do {
            root = try YAMLComposer.compose(yaml)
        } catch {
            throw ConfigError(source: source, problems: [ConfigProblem(path: "", message: "is not valid YAML: \(error)")])
        }
        var config = BatchConfig.defaults
        if let root { reader.readRoot(root, into: &config) }
        if !reader.problems.isEmpty { throw ConfigError(source: source, problems: reader.problems) }
        return config
    }

    /// The keys that moved from the configuration file to the `BatchQueuePolicy` (and `queues`, replaced by the
    /// BatchQueue objects), with where each went; `load` refuses them with this text.
    public static let movedKeys: [(key: String, now: String)] = [
        ("queues", "the queue set is the BatchQueue objects of the namespace now: delete this key, and add a queue with kubectl apply of its BatchQueue and Deployment (RUNBOOK.md, \"Adding a queue\"); the claim --any order is spec.claimOrder of the BatchQueuePolicy named default"),
    ] + QueuePolicy.keys.filter { $0 != "claimOrder" }.map {
        ($0, "moved to the cluster: set spec.\($0) of the BatchQueuePolicy named default in the namespace (kubectl edit batchqueuepolicy default) and delete it here (RUNBOOK.md, \"Upgrading from the config-file layout\")")
    }

    /// Parses and checks a `BatchQueuePolicy` spec given as YAML (what `kubectl get -o yaml` shows under `spec:`).
    /// - Throws: `ConfigError` listing every problem, each with its `spec.` path.
    public static func loadPolicy(yaml: String, source: String) throws(ConfigError) -> QueuePolicy {
        let root: Node?
        do {
            root = try YAMLComposer.compose(yaml)
        } catch {
            throw ConfigError(source: source, problems: [ConfigProblem(path: "spec", message: "is not valid YAML: \(error)")], subject: "BatchQueuePolicy")
        }
        return try loadPolicy(spec: root, source: source)
    }

    /// The policy of a YAML document that is a whole `BatchQueuePolicy` object (`kind: BatchQueuePolicy`), or nil
    /// when the document is something else (such as a configuration file).
    /// - Throws: `ConfigError` when it is a BatchQueuePolicy that breaks a rule.
    public static func loadPolicyObject(yaml: String, source: String) throws(ConfigError) -> QueuePolicy? {
        guard let root = try? YAMLComposer.compose(yaml), root["kind"]?.scalarText == BatchQueuePolicy.kind else { return nil }
        return try loadPolicy(spec: root["spec"], source: source)
    }

    /// Checks a `BatchQueuePolicy` spec; fields left out keep `QueuePolicy.defaults`.
    /// - Throws: `ConfigError` listing every problem, each with its `spec.` path.
    public static func loadPolicy(spec: Node?, source: String) throws(ConfigError) -> QueuePolicy {
        var reader = Reader()
        reader.goDurations = true
        var policy = QueuePolicy.defaults
        if let spec, !spec.isNull { reader.readPolicy(spec, "spec", into: &policy) }
        reader.validate(policy, "spec")
        if !reader.problems.isEmpty { throw ConfigError(source: source, problems: reader.problems, subject: "BatchQueuePolicy") }
        return policy
    }
}

extension QueuePolicy {
    /// The keys of a `BatchQueuePolicy` spec.
    public static let keys = ["bands", "rampUp", "idleAfter", "totalReplicaBudget", "busyWorkerGrace", "reservations",
                              "reminders", "queueDepth", "claimOrder", "guards"]
}

// MARK: - Reading nodes, with a path for every problem

private struct Reader {
    var problems: [ConfigProblem] = []
    /// Durations must be in Go's form (no d or w), as the API server's CEL `duration()` reads them: a policy spec.
    var goDurations = false

    mutating func problem(_ path: String, _ message: String) {
        problems.append(ConfigProblem(path: path, message: message))
    }

    func hasProblem(under prefix: String) -> Bool {
        problems.contains { $0.path == prefix || $0.path.hasPrefix(prefix + ".") || $0.path.hasPrefix(prefix + "[") }
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// Returns the mapping's entries by key, reporting unknown keys and non-string keys.
    /// `alsoAccepted` keys are returned too (for a caller that reports them itself) but not suggested.
    mutating func mapping(_ node: Node, _ path: String, known: [String], alsoAccepted: [String] = []) -> [(key: String, value: Node)]? {
        guard case let .mapping(m) = node else {
            problem(path, "\(path.isEmpty ? "the top level " : "")must be a mapping of \(known.joined(separator: ", ")), not \(kindName(node))")
            return nil
        }
        var out: [(String, Node)] = []
        for (k, v) in m {
            guard case let .scalar(ks) = k else {
                problem(path, "has a key that is not a plain name")
                continue
            }
            let key = ks.string
            if known.contains(key) || alsoAccepted.contains(key) {
                out.append((key, v))
            } else {
                var message = "unknown key"
                if let guess = closest(key, in: known) { message += "; did you mean \(guess)?" } else {
                    message += "; known keys here are \(known.joined(separator: ", "))"
                }
                problem(Self.join(path, key), message)
            }
        }
        return out
    }

    func isNull(_ node: Node) -> Bool { node.isNull }

    func kindName(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case let .scalar(s): return "\"\(s.string)\""
        }
    }

    mutating func scalar(_ node: Node, _ path: String, expected: String) -> String? {
        guard case let .scalar(s) = node else {
            problem(path, "must be \(expected), not \(kindName(node))")
            return nil
        }
        return s.string
    }

    mutating func string(_ node: Node, _ path: String) -> String? {
        scalar(node, path, expected: "a string")
    }

    mutating func int(_ node: Node, _ path: String, min: Int, max: Int = Int.max) -> Int? {
        guard let text = scalar(node, path, expected: "a whole number") else { return nil }
        guard let n = Int(text.trimmingWhitespace()) else {
            problem(path, "\(quoted(text)) must be a whole number")
            return nil
        }
        if n < min {
            problem(path, "\(n) must be at least \(min)")
            return nil
        }
        if n > max {
            problem(path, "\(n) must be at most \(max)")
            return nil
        }
        return n
    }

    mutating func bool(_ node: Node, _ path: String) -> Bool? {
        guard let text = scalar(node, path, expected: "true or false") else { return nil }
        switch text {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default:
            problem(path, "\(quoted(text)) must be true or false")
            return nil
        }
    }

    mutating func duration(_ node: Node, _ path: String, min: TimeSpan = .zero, max: TimeSpan? = nil) -> TimeSpan? {
        guard let text = scalar(node, path, expected: "a duration such as 30s, 15m or 1d12h") else { return nil }
        let span: TimeSpan
        do {
            span = try TimeSpan.parse(text)
        } catch {
            problem(path, error.description)
            return nil
        }
        if goDurations, text.contains("d") || text.contains("w") {
            problem(path, "\(quoted(text)) uses d or w, which the API server's admission policy cannot read; write hours, such as \(span.milliseconds / 3_600_000)h")
            return nil
        }
        if span < min {
            problem(path, min == .milliseconds(1) ? "\(text) must be longer than 0s" : "\(text) must be at least \(min)")
            return nil
        }
        if let max, span > max {
            problem(path, "\(text) must be at most \(max)")
            return nil
        }
        return span
    }

    mutating func sequence(_ node: Node, _ path: String, of what: String) -> [Node]? {
        guard case let .sequence(s) = node else {
            problem(path, "must be a list of \(what), not \(kindName(node))")
            return nil
        }
        return Array(s)
    }

    func quoted(_ s: String) -> String { "\"\(s)\"" }

    // MARK: The document

    mutating func readRoot(_ root: Node, into c: inout BatchConfig) {
        let keys = ["namespace", "redis", "celery", "pollInterval", "tasksPerReplica", "busyAware", "webhook", "prometheus"]
        let moved = Dictionary(ConfigLoader.movedKeys.map { ($0.key, $0.now) }, uniquingKeysWith: { a, _ in a })
        guard let entries = mapping(root, "", known: keys, alsoAccepted: ConfigLoader.movedKeys.map(\.key)) else { return }
        for (key, value) in entries {
            if let now = moved[key] {
                problem(key, now)
                continue
            }
            if isNull(value) { continue }
            switch key {
            case "namespace":
                if let s = string(value, key) {
                    if let why = KubernetesNames.dnsLabelProblem(s) { problem(key, "\(quoted(s)) \(why)") } else { c.namespace = s }
                }
            case "redis": readRedis(value, key, into: &c.redis)
            case "celery": readCelery(value, key, into: &c.celery)
            case "pollInterval": if let d = duration(value, key, min: .milliseconds(100), max: .minutes(10)) { c.pollInterval = d }
            case "tasksPerReplica": if let n = int(value, key, min: 0) { c.tasksPerReplica = n }
            case "busyAware": if let b = bool(value, key) { c.busyAware = b }
            case "webhook": readWebhook(value, key, into: &c.webhook)
            case "prometheus": c.prometheus = readPrometheus(value, key)
            default: break
            }
        }
    }

    /// A `BatchQueuePolicy` spec at `path`.
    mutating func readPolicy(_ root: Node, _ path: String, into c: inout QueuePolicy) {
        guard let entries = mapping(root, path, known: QueuePolicy.keys) else { return }
        for (key, value) in entries where !isNull(value) {
            let p = Self.join(path, key)
            switch key {
            case "bands": if let b = readBands(value, p) { c.bands = b }
            case "rampUp": readRampUp(value, p, into: &c.rampUp)
            case "idleAfter": if let d = duration(value, p, min: .milliseconds(1)) { c.idleAfter = d }
            case "totalReplicaBudget": if let n = int(value, p, min: 1, max: 10_000) { c.totalReplicaBudget = n }
            case "busyWorkerGrace": if let d = duration(value, p) { c.busyWorkerGrace = d }
            case "reservations": readReservations(value, p, into: &c.reservations)
            case "reminders": readReminders(value, p, into: &c.reminders)
            case "queueDepth": readDepth(value, p, into: &c.queueDepth)
            case "claimOrder": if let o = readClaimOrder(value, p) { c.claimOrder = o }
            case "guards": if let g = readGuards(value, p) { c.guards = g }
            default: break
            }
        }
    }

    mutating func readClaimOrder(_ node: Node, _ path: String) -> [String]? {
        guard let items = sequence(node, path, of: "BatchQueue names") else { return nil }
        var names: [String] = []
        for (i, item) in items.enumerated() {
            let p = "\(path)[\(i)]"
            guard let s = string(item, p) else { continue }
            if let why = KubernetesNames.queueNameProblem(s) {
                problem(p, "\(quoted(s)) \(why)")
            } else if let j = names.firstIndex(of: s) {
                problem(p, "\(quoted(s)) is already listed at \(path)[\(j)]")
            } else {
                names.append(s)
            }
        }
        return hasProblem(under: path) ? nil : names
    }

    /// `spec.guards`: each problem of a guard names it (`guard "redis-memory": ...`), so a long list is easy to fix.
    mutating func readGuards(_ node: Node, _ path: String) -> [Guard]? {
        guard let items = sequence(node, path, of: "guards (name, expr, for)") else { return nil }
        if items.count > Guard.maxCount { problem(path, "has \(items.count) guards; at most \(Guard.maxCount) are allowed (each is one Prometheus query per poll)") }
        var guards: [Guard] = []
        for (i, item) in items.prefix(Guard.maxCount).enumerated() {
            let p = "\(path)[\(i)]"
            let before = problems.count
            var name: String?
            var expr: String?
            var forDuration = TimeSpan.zero
            if case let .mapping(m) = item {
                name = m.first { if case let .scalar(k) = $0.0 { return k.string == "name" } else { return false } }?.1.scalarText
            }
            let label = name.map { "guard \(quoted($0))" } ?? "guard \(p)"
            if let entries = mapping(item, p, known: ["name", "expr", "for"]) {
                for (key, value) in entries where !isNull(value) {
                    let q = Self.join(p, key)
                    switch key {
                    case "name":
                        if let s = string(value, q) {
                            if let why = KubernetesNames.dnsLabelProblem(s) { problem(q, "\(quoted(s)) \(why)") }
                            else if guards.contains(where: { $0.name == s }) { problem(q, "\(quoted(s)) is already the name of another guard") }
                        }
                    case "expr":
                        if let s = string(value, q) {
                            if s.trimmingWhitespace().isEmpty {
                                problem(q, "is empty; write a PromQL expression that returns a result while the service is healthy, such as redis_memory_used_bytes / redis_memory_max_bytes < 0.8")
                            } else if s.utf8.count > Guard.maxExprLength {
                                problem(q, "is \(s.utf8.count) bytes; at most \(Guard.maxExprLength) are allowed")
                            } else {
                                expr = s
                            }
                        }
                    case "for": if let d = duration(value, q, max: .hours(24)) { forDuration = d }
                    default: break
                    }
                }
                if name == nil { problem(Self.join(p, "name"), "is required: a DNS label such as redis-memory") }
                if expr == nil, !entries.contains(where: { $0.key == "expr" }) {
                    problem(Self.join(p, "expr"), "is required: a PromQL expression that returns a result while the service is healthy")
                }
            }
            // Name the guard in each of its problems.
            for j in before..<problems.count {
                problems[j] = ConfigProblem(path: problems[j].path, message: "\(label): \(problems[j].message)")
            }
            if problems.count == before, let name, let expr {
                guards.append(Guard(name: name, expr: expr, forDuration: forDuration))
            }
        }
        return hasProblem(under: path) ? nil : guards
    }

    /// `prometheus`: the URL must be http(s) without credentials (the token comes from `tokenFile`).
    mutating func readPrometheus(_ node: Node, _ path: String) -> PrometheusSettings? {
        guard let entries = mapping(node, path, known: ["url", "caFile", "tokenFile", "timeout"]) else { return nil }
        var settings = PrometheusSettings(url: "")
        for (key, value) in entries where !isNull(value) {
            let p = Self.join(path, key)
            switch key {
            case "url":
                guard let s = string(value, p) else { continue }
                let lower = s.lowercased()
                if !(lower.hasPrefix("http://") || lower.hasPrefix("https://")) || s.count > 2048 {
                    problem(p, "must be an http:// or https:// URL of the Prometheus server, such as http://prometheus.monitoring:9090")
                } else if s.split(separator: "/", omittingEmptySubsequences: false).dropFirst(2).first?.contains("@") == true {
                    problem(p, "contains credentials; secrets do not belong in the config file: put the bearer token in a file and set prometheus.tokenFile")
                } else {
                    settings.url = s.hasSuffix("/") ? String(s.dropLast()) : s
                }
            case "caFile": if let s = string(value, p), !s.isEmpty { settings.caFile = s }
            case "tokenFile": if let s = string(value, p), !s.isEmpty { settings.tokenFile = s }
            case "timeout": if let d = duration(value, p, min: .milliseconds(100), max: .minutes(1)) { settings.timeout = d }
            default: break
            }
        }
        if settings.url.isEmpty, !hasProblem(under: path) { problem(Self.join(path, "url"), "is required when prometheus is set, such as http://prometheus.monitoring:9090") }
        return hasProblem(under: path) ? nil : settings
    }

    mutating func readRedis(_ node: Node, _ path: String, into r: inout RedisSettings) {
        guard let entries = mapping(node, path, known: ["url", "masterName", "connectTimeout", "commandTimeout"]) else { return }
        var sentinelURL: SentinelURL?
        var masterName: String?
        for (key, value) in entries where !isNull(value) {
            let p = Self.join(path, key)
            switch key {
            case "url":
                guard let s = string(value, p) else { continue }
                let secretAdvice = "secrets do not belong in the config file: remove it and set REDIS_PASSWORD or REDIS_PASSWORD_FILE"
                do {
                    if SentinelURL.isSentinel(s) {
                        let url = try SentinelURL.parse(s)
                        if url.password != nil {
                            problem(p, "\(RedisURLError(input: s, problem: "").input) contains a password; \(secretAdvice) (the sentinels' own password: REDIS_SENTINEL_PASSWORD or REDIS_SENTINEL_PASSWORD_FILE)")
                        } else {
                            sentinelURL = url
                        }
                        continue
                    }
                    let url = try RedisURL.parse(s)
                    if url.password != nil {
                        problem(p, "\(RedisURLError.mask(s)) contains a password; \(secretAdvice)")
                    } else {
                        r.url = url
                        r.sentinel = nil
                    }
                } catch {
                    problem(p, error.description)
                }
            case "masterName":
                guard let s = string(value, p) else { continue }
                if let why = SentinelURL.masterNameProblem(s) { problem(p, why) } else { masterName = s }
            case "connectTimeout": if let d = duration(value, p, min: .milliseconds(1), max: .minutes(1)) { r.connectTimeout = d }
            case "commandTimeout": if let d = duration(value, p, min: .milliseconds(1), max: .minutes(1)) { r.commandTimeout = d }
            default: break
            }
        }
        if let sentinelURL {
            if let masterName {
                r.useSentinels(sentinelURL, masterName: masterName)
            } else if !hasProblem(under: Self.join(path, "masterName")) {
                problem(Self.join(path, "masterName"), "is required with a sentinel:// URL: give the name the sentinels monitor, as in Celery's broker_transport_options = {'master_name': 'mymaster'}")
            }
        } else if masterName != nil, !hasProblem(under: Self.join(path, "url")) {
            problem(Self.join(path, "masterName"), "is set, but redis.url is not a sentinel:// URL; remove masterName, or list the sentinels in redis.url as Celery's broker_url does: sentinel://s1:26379;sentinel://s2:26379")
        }
    }

    mutating func readCelery(_ node: Node, _ path: String, into l: inout CeleryLayout) {
        guard let entries = mapping(node, path, known: ["globalKeyPrefix", "separator", "prioritySteps", "visibilityTimeout"]) else { return }
        for (key, value) in entries {
            let p = Self.join(path, key)
            switch key {
            case "globalKeyPrefix":
                // An explicit null or empty string both mean "no prefix".
                if isNull(value) { l.globalKeyPrefix = ""; continue }
                if let s = string(value, p) { l.globalKeyPrefix = s }
            case "separator":
                guard !isNull(value), let s = string(value, p), !s.isEmpty else {
                    if !hasProblem(under: p) { problem(p, "must not be empty; kombu's default is \"\\x06\\x16\"") }
                    continue
                }
                l.separator = s
            case "prioritySteps":
                if isNull(value) { continue }
                guard let items = sequence(value, p, of: "priority steps from 0 to 9") else { continue }
                var steps: [Int] = []
                for (i, item) in items.enumerated() {
                    if let n = int(item, "\(p)[\(i)]", min: 0, max: 9) { steps.append(n) }
                }
                guard steps.count == items.count else { continue }
                if steps.isEmpty {
                    problem(p, "must not be empty; kombu's default is [0, 3, 6, 9]")
                } else if steps.first != 0 {
                    problem("\(p)[0]", "\(steps[0]) must be 0: kombu keeps priority 0 in the bare queue name")
                } else if let i = steps.indices.dropFirst().first(where: { steps[$0] <= steps[$0 - 1] }) {
                    problem("\(p)[\(i)]", "\(steps[i]) must be greater than \(p)[\(i - 1)] (\(steps[i - 1])); list the steps in increasing order")
                } else {
                    l.prioritySteps = steps
                }
            case "visibilityTimeout":
                if let d = duration(value, p, min: .seconds(1)) { l.visibilityTimeout = d }
            default: break
            }
        }
    }

    mutating func readBands(_ node: Node, _ path: String) -> [Band]? {
        guard let items = sequence(node, path, of: "replica bands, each with a name and a max") else { return nil }
        if items.isEmpty {
            problem(path, "must list at least one band, such as {name: small, max: 5}")
            return nil
        }
        var bands: [Band] = []
        var ok = true
        for (i, item) in items.enumerated() {
            let p = "\(path)[\(i)]"
            guard let entries = mapping(item, p, known: ["name", "min", "max", "requiresApproval"]) else { ok = false; continue }
            var name: String?, min: Int?, max: Int?, approval = false
            for (key, value) in entries {
                let kp = Self.join(p, key)
                switch key {
                case "name":
                    if let s = string(value, kp) {
                        if let why = KubernetesNames.bandNameProblem(s) { problem(kp, "\(quoted(s)) \(why)") } else { name = s }
                    }
                case "min": min = int(value, kp, min: 1)
                case "max": max = int(value, kp, min: 1)
                case "requiresApproval": approval = bool(value, kp) ?? false
                default: break
                }
            }
            if hasProblem(under: p) { ok = false; continue }
            guard let name else { problem(p, "has no name, such as name: small"); ok = false; continue }
            guard let max else { problem(p, "has no max, the largest replica count in the band"); ok = false; continue }
            let expectedMin = (bands.last?.max ?? 0) + 1
            if i > 0, let prev = bands.last, max <= prev.max {
                problem("\(p).max", "\(max) must be greater than \(path)[\(i - 1)].max (\(prev.max))")
                ok = false
                continue
            }
            if let min, ok {
                if min < expectedMin {
                    let what = i == 0 ? "must be 1: bands start at one replica" : "overlaps \(path)[\(i - 1)] (\(bands[i - 1].min)-\(bands[i - 1].max)); it must be \(expectedMin)"
                    problem("\(p).min", "\(min) \(what)")
                    ok = false
                    continue
                } else if min > expectedMin {
                    let what = i == 0 ? "must be 1: bands start at one replica" : "leaves a gap after \(path)[\(i - 1)] (\(bands[i - 1].min)-\(bands[i - 1].max)); it must be \(expectedMin)"
                    problem("\(p).min", "\(min) \(what)")
                    ok = false
                    continue
                } else if min > max {
                    problem("\(p).min", "\(min) must not be greater than \(p).max (\(max))")
                    ok = false
                    continue
                }
            }
            if let j = bands.firstIndex(where: { $0.name == name }) {
                problem("\(p).name", "\(quoted(name)) is already used by \(path)[\(j)]; band names must be unique")
                ok = false
                continue
            }
            if !approval, let approved = bands.first(where: { $0.requiresApproval }) {
                problem("\(p).requiresApproval", "false, but the smaller band \(quoted(approved.name)) requires approval; larger bands must too")
                ok = false
                continue
            }
            bands.append(Band(name: name, min: expectedMin, max: max, requiresApproval: approval))
        }
        return ok ? bands : nil
    }

    mutating func readRampUp(_ node: Node, _ path: String, into r: inout RampUp) {
        guard let entries = mapping(node, path, known: ["step", "every", "stepBackAfter"]) else { return }
        for (key, value) in entries where !isNull(value) {
            let p = Self.join(path, key)
            switch key {
            case "step": if let n = int(value, p, min: 1) { r.step = n }
            case "every": if let d = duration(value, p, max: .hours(1)) { r.every = d }
            case "stepBackAfter": if let d = duration(value, p, min: .seconds(1), max: .hours(24)) { r.stepBackAfter = d }
            default: break
            }
        }
    }

    mutating func readReservations(_ node: Node, _ path: String, into r: inout ReservationLimits) {
        guard let entries = mapping(node, path, known: ["defaultDuration", "maxDuration"]) else { return }
        for (key, value) in entries where !isNull(value) {
            let p = Self.join(path, key)
            switch key {
            case "defaultDuration": if let d = duration(value, p, min: .minutes(1)) { r.defaultDuration = d }
            case "maxDuration": if let d = duration(value, p, min: .minutes(1)) { r.maxDuration = d }
            default: break
            }
        }
    }

    mutating func readReminders(_ node: Node, _ path: String, into r: inout ReminderSettings) {
        guard let entries = mapping(node, path, known: ["expiringBefore", "idleEvery", "orphanedEvery", "redisMemoryHighPercent"]) else { return }
        for (key, value) in entries {
            let p = Self.join(path, key)
            switch key {
            case "expiringBefore":
                if isNull(value) { r.expiringBefore = []; continue }
                guard let items = sequence(value, p, of: "durations such as 24h") else { continue }
                var spans: [TimeSpan] = []
                for (i, item) in items.enumerated() {
                    if let d = duration(item, "\(p)[\(i)]", min: .milliseconds(1)) {
                        if let j = spans.firstIndex(of: d) {
                            problem("\(p)[\(i)]", "\(d) is already listed at \(p)[\(j)]")
                        } else {
                            spans.append(d)
                        }
                    }
                }
                if !hasProblem(under: p) { r.expiringBefore = spans.sorted(by: >) }
            case "idleEvery": if !isNull(value), let d = duration(value, p, min: .minutes(1)) { r.idleEvery = d }
            case "orphanedEvery": if !isNull(value), let d = duration(value, p, min: .seconds(1)) { r.orphanedEvery = d }
            case "redisMemoryHighPercent": if !isNull(value), let n = int(value, p, min: 1, max: 100) { r.redisMemoryHighPercent = n }
            default: break
            }
        }
    }

    mutating func readDepth(_ node: Node, _ path: String, into d: inout DepthThresholds) {
        guard let entries = mapping(node, path, known: ["good", "fine", "careful"]) else { return }
        for (key, value) in entries where !isNull(value) {
            let p = Self.join(path, key)
            guard let n = int(value, p, min: 1) else { continue }
            switch key {
            case "good": d.good = n
            case "fine": d.fine = n
            case "careful": d.careful = n
            default: break
            }
        }
    }

    mutating func readWebhook(_ node: Node, _ path: String, into w: inout WebhookSettings) {
        guard let entries = mapping(node, path, known: ["format", "timeout", "retries", "url"]) else { return }
        for (key, value) in entries where !isNull(value) {
            let p = Self.join(path, key)
            switch key {
            case "format":
                guard let s = string(value, p) else { continue }
                if let f = WebhookSettings.Format(rawValue: s) { w.format = f } else {
                    problem(p, "\(quoted(s)) must be one of \(WebhookSettings.Format.allCases.map(\.rawValue).joined(separator: ", "))")
                }
            case "timeout": if let d = duration(value, p, min: .milliseconds(1), max: .minutes(1)) { w.timeout = d }
            case "retries": if let n = int(value, p, min: 0, max: 10) { w.retries = n }
            case "url":
                problem(p, "the webhook URL is a secret and does not belong in the config file: remove it and set BATCHCTL_WEBHOOK_URL or BATCHCTL_WEBHOOK_URL_FILE")
            default: break
            }
        }
    }

    // MARK: Rules across keys

    mutating func validate(_ c: QueuePolicy, _ base: String) {
        let at = { (key: String) in Self.join(base, key) }
        if !hasProblem(under: at("reservations")), c.reservations.maxDuration < c.reservations.defaultDuration {
            problem(at("reservations.maxDuration"), "\(c.reservations.maxDuration) must be at least \(at("reservations.defaultDuration")) (\(c.reservations.defaultDuration))")
        }
        // An expiringBefore threshold longer than maxDuration is allowed: an admin who shortens maxDuration need not
        // touch the reminders (the reminder for it goes out with the claim).
        if !hasProblem(under: at("queueDepth")) {
            let d = c.queueDepth
            if d.fine <= d.good {
                problem(at("queueDepth.fine"), "\(d.fine) must be greater than \(at("queueDepth.good")) (\(d.good))")
            } else if d.careful <= d.fine {
                problem(at("queueDepth.careful"), "\(d.careful) must be greater than \(at("queueDepth.fine")) (\(d.fine))")
            }
        }
        if !hasProblem(under: at("bands")), !hasProblem(under: at("totalReplicaBudget")), c.totalReplicaBudget < c.bands[0].max {
            problem(at("totalReplicaBudget"), "\(c.totalReplicaBudget) must be at least \(at("bands"))[0].max (\(c.bands[0].max)), or even a small claim could not get its replicas")
        }
    }
}

/// Levenshtein distance, to suggest the key someone meant.
private func closest(_ word: String, in candidates: [String]) -> String? {
    func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.lowercased()), b = Array(b.lowercased())
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var prev = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let cur = row[j]
                row[j] = Swift.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
                prev = cur
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }
    let scored = candidates.map { ($0, distance(word, $0)) }.min { $0.1 < $1.1 }
    guard let (best, d) = scored, d <= max(2, word.count / 3) else { return nil }
    return best
}
