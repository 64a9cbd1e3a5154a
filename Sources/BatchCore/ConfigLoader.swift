import YAML

/// One thing wrong with a configuration: the key path (`bands[2].max`) and what is wrong with it.
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    /// Where: a dotted key path with list indexes, such as `reminders.expiringBefore[1]`.
    public let path: String
    /// What: the value and the rule it breaks, such as `8 must be greater than bands[1].max (10)`.
    public let message: String
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// A configuration that cannot be used; lists every problem found, not only the first.
public struct ConfigError: BatchctlFailure, Equatable {
    /// The file (or `embedded defaults`) the problems were found in.
    public let source: String
    public let problems: [ConfigProblem]
    public var kind: FailureKind { .badInput }
    public init(source: String, problems: [ConfigProblem]) {
        self.source = source
        self.problems = problems
    }
    public var description: String {
        let count = problems.count == 1 ? "1 problem" : "\(problems.count) problems"
        return "\(source) is not a valid batchctl configuration (\(count)):\n"
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
        reader.validate(config)
        if !reader.problems.isEmpty { throw ConfigError(source: source, problems: reader.problems) }
        return config
    }
}

// MARK: - Reading nodes, with a path for every problem

private struct Reader {
    var problems: [ConfigProblem] = []

    mutating func problem(_ path: String, _ message: String) {
        problems.append(ConfigProblem(path: path, message: message))
    }

    func hasProblem(under prefix: String) -> Bool {
        problems.contains { $0.path == prefix || $0.path.hasPrefix(prefix + ".") || $0.path.hasPrefix(prefix + "[") }
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// Returns the mapping's entries by key, reporting unknown keys and non-string keys.
    mutating func mapping(_ node: Node, _ path: String, known: [String]) -> [(key: String, value: Node)]? {
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
            if known.contains(key) {
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
        let keys = ["namespace", "redis", "celery", "queues", "pollInterval", "bands", "rampUp", "idleAfter",
                    "totalReplicaBudget", "tasksPerReplica", "busyWorkerGrace", "busyAware", "reservations", "reminders",
                    "queueDepth", "webhook"]
        guard let entries = mapping(root, "", known: keys) else { return }
        for (key, value) in entries where !isNull(value) {
            switch key {
            case "namespace":
                if let s = string(value, key) {
                    if let why = KubernetesNames.dnsLabelProblem(s) { problem(key, "\(quoted(s)) \(why)") } else { c.namespace = s }
                }
            case "redis": readRedis(value, key, into: &c.redis)
            case "celery": readCelery(value, key, into: &c.celery)
            case "queues": if let q = readQueues(value, key) { c.queues = q }
            case "pollInterval": if let d = duration(value, key, min: .milliseconds(100), max: .minutes(10)) { c.pollInterval = d }
            case "bands": if let b = readBands(value, key) { c.bands = b }
            case "rampUp": readRampUp(value, key, into: &c.rampUp)
            case "idleAfter": if let d = duration(value, key, min: .milliseconds(1)) { c.idleAfter = d }
            case "totalReplicaBudget": if let n = int(value, key, min: 1, max: 10_000) { c.totalReplicaBudget = n }
            case "tasksPerReplica": if let n = int(value, key, min: 0) { c.tasksPerReplica = n }
            case "busyWorkerGrace": if let d = duration(value, key) { c.busyWorkerGrace = d }
            case "busyAware": if let b = bool(value, key) { c.busyAware = b }
            case "reservations": readReservations(value, key, into: &c.reservations)
            case "reminders": readReminders(value, key, into: &c.reminders)
            case "queueDepth": readDepth(value, key, into: &c.queueDepth)
            case "webhook": readWebhook(value, key, into: &c.webhook)
            default: break
            }
        }
    }

    mutating func readRedis(_ node: Node, _ path: String, into r: inout RedisSettings) {
        guard let entries = mapping(node, path, known: ["url", "connectTimeout", "commandTimeout"]) else { return }
        for (key, value) in entries where !isNull(value) {
            let p = Self.join(path, key)
            switch key {
            case "url":
                guard let s = string(value, p) else { continue }
                do {
                    let url = try RedisURL.parse(s)
                    if url.password != nil {
                        problem(p, "\(RedisURLError.mask(s)) contains a password; secrets do not belong in the config file: remove it and set REDIS_PASSWORD or REDIS_PASSWORD_FILE")
                    } else {
                        r.url = url
                    }
                } catch {
                    problem(p, error.description)
                }
            case "connectTimeout": if let d = duration(value, p, min: .milliseconds(1), max: .minutes(1)) { r.connectTimeout = d }
            case "commandTimeout": if let d = duration(value, p, min: .milliseconds(1), max: .minutes(1)) { r.commandTimeout = d }
            default: break
            }
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

    mutating func readQueues(_ node: Node, _ path: String) -> [QueueConfig]? {
        guard let items = sequence(node, path, of: "queues, each with a name and a deployment") else { return nil }
        if items.isEmpty {
            problem(path, "must list at least one queue")
            return nil
        }
        var queues: [QueueConfig] = []
        var ok = true
        for (i, item) in items.enumerated() {
            let p = "\(path)[\(i)]"
            guard let entries = mapping(item, p, known: ["name", "deployment"]) else { ok = false; continue }
            var name: String?
            var deployment: String?
            for (key, value) in entries {
                let kp = Self.join(p, key)
                guard let s = string(value, kp) else { ok = false; continue }
                switch key {
                case "name":
                    if let why = KubernetesNames.queueNameProblem(s) { problem(kp, "\(quoted(s)) \(why)"); ok = false } else { name = s }
                case "deployment":
                    if let why = KubernetesNames.dnsSubdomainProblem(s) { problem(kp, "\(quoted(s)) \(why)"); ok = false } else { deployment = s }
                default: break
                }
            }
            guard let name else {
                if !hasProblem(under: "\(p).name") { problem(p, "has no name; every queue needs one, such as name: batch0") }
                ok = false
                continue
            }
            queues.append(QueueConfig(name: name, deployment: deployment ?? "celery-\(name)"))
        }
        for (i, q) in queues.enumerated() {
            if let j = queues[..<i].firstIndex(where: { $0.name == q.name }) {
                problem("\(path)[\(i)].name", "\(quoted(q.name)) is already used by \(path)[\(j)]; queue names must be unique")
                ok = false
            } else if let j = queues[..<i].firstIndex(where: { $0.deployment == q.deployment }) {
                problem("\(path)[\(i)].deployment", "\(quoted(q.deployment)) is already used by \(path)[\(j)]; each queue needs its own Deployment")
                ok = false
            }
        }
        return ok ? queues : nil
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
        guard let entries = mapping(node, path, known: ["step", "every"]) else { return }
        for (key, value) in entries where !isNull(value) {
            let p = Self.join(path, key)
            switch key {
            case "step": if let n = int(value, p, min: 1) { r.step = n }
            case "every": if let d = duration(value, p, max: .hours(1)) { r.every = d }
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

    mutating func validate(_ c: BatchConfig) {
        if !hasProblem(under: "reservations"), c.reservations.maxDuration < c.reservations.defaultDuration {
            problem("reservations.maxDuration", "\(c.reservations.maxDuration) must be at least reservations.defaultDuration (\(c.reservations.defaultDuration))")
        }
        if !hasProblem(under: "reminders.expiringBefore"), !hasProblem(under: "reservations"),
           let i = c.reminders.expiringBefore.firstIndex(where: { $0 >= c.reservations.maxDuration }) {
            problem("reminders.expiringBefore", "\(c.reminders.expiringBefore[i]) must be shorter than reservations.maxDuration (\(c.reservations.maxDuration)), or the reminder could never fire")
        }
        if !hasProblem(under: "queueDepth") {
            let d = c.queueDepth
            if d.fine <= d.good {
                problem("queueDepth.fine", "\(d.fine) must be greater than queueDepth.good (\(d.good))")
            } else if d.careful <= d.fine {
                problem("queueDepth.careful", "\(d.careful) must be greater than queueDepth.fine (\(d.fine))")
            }
        }
        if !hasProblem(under: "queues"), !hasProblem(under: "celery.separator") {
            for (i, q) in c.queues.enumerated() where q.name.contains(c.celery.separator) {
                problem("queues[\(i)].name", "\"\(q.name)\" contains celery.separator; kombu could not tell the queue from its priority lists")
            }
        }
        if !hasProblem(under: "bands"), !hasProblem(under: "totalReplicaBudget"), c.totalReplicaBudget < c.bands[0].max {
            problem("totalReplicaBudget", "\(c.totalReplicaBudget) must be at least bands[0].max (\(c.bands[0].max)), or even a small claim could not get its replicas")
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
