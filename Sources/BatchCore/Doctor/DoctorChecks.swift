/// `batchctl doctor`'s rules: pure functions from what was read (Redis INFO, a worker Deployment's pod
/// template, Celery heartbeats, autoscalers) to one check each, ok / warn / fail with the fix in one line.
/// No I/O here: the command reads, these decide.

import MemberwiseInit

/// How a check came out. `fail` makes `batchctl doctor` exit 1.
public enum CheckStatus: String, Sendable, Codable, Equatable, Comparable {
    case ok, skip, warn, fail

    private var rank: Int {
        switch self {
        case .ok: 0
        case .skip: 1
        case .warn: 2
        case .fail: 3
        }
    }

    public static func < (a: CheckStatus, b: CheckStatus) -> Bool { a.rank < b.rank }
}

/// One finding of `batchctl doctor`.
@MemberwiseInit(.public)
public struct DoctorCheck: Sendable, Codable, Equatable {
    /// What was checked, such as `redis eviction` or `batch1 queue`.
    public var check: String
    public var status: CheckStatus
    /// What was found, naming the values.
    public var detail: String
    /// What to do about it, in one line; nil when nothing needs doing.
    public var fix: String?
}

/// The rules, one function per check.
public enum DoctorRules {
    /// Redis must not evict: with any `maxmemory-policy` but `noeviction` a full Redis silently drops queued
    /// tasks (kombu's lists are keys like any other), instead of refusing new ones.
    public static func eviction(policy: String?) -> DoctorCheck {
        guard let policy else {
            return DoctorCheck(check: "redis eviction", status: .warn, detail: "INFO memory did not report maxmemory_policy",
                               fix: "check by hand that 'CONFIG GET maxmemory-policy' answers noeviction")
        }
        if policy == "noeviction" {
            return DoctorCheck(check: "redis eviction", status: .ok, detail: "maxmemory-policy is noeviction")
        }
        return DoctorCheck(check: "redis eviction", status: .fail,
                           detail: "maxmemory-policy is \(policy): when Redis is full it evicts keys, queued tasks included, without an error",
                           fix: "set maxmemory-policy noeviction (CONFIG SET maxmemory-policy noeviction, and in redis.conf)")
    }

    /// Memory headroom against `maxmemory`: warn from 80 % used, fail from 95 %.
    public static func memory(used: Int?, max: Int?) -> DoctorCheck {
        guard let used, let max else {
            return DoctorCheck(check: "redis memory", status: .warn, detail: "INFO memory did not report used_memory and maxmemory",
                               fix: "check Redis memory by hand (INFO memory)")
        }
        guard max > 0 else {
            return DoctorCheck(check: "redis memory", status: .warn,
                               detail: "no maxmemory: Redis grows until the host or container runs out of memory (\(mib(used)) used)",
                               fix: "set maxmemory below the container's memory limit, with maxmemory-policy noeviction")
        }
        let percent = used >= Int.max / 100 ? 100 : used * 100 / max
        let detail = "\(mib(used)) of \(mib(max)) maxmemory used (\(percent) %)"
        if percent >= 95 {
            return DoctorCheck(check: "redis memory", status: .fail, detail: detail,
                               fix: "drain or delete queued tasks, or raise maxmemory: Redis will soon refuse new tasks")
        }
        if percent >= 80 {
            return DoctorCheck(check: "redis memory", status: .warn, detail: detail,
                               fix: "raise maxmemory or drain queues before Redis refuses new tasks")
        }
        return DoctorCheck(check: "redis memory", status: .ok, detail: detail)
    }

    /// Persistence: without AOF or RDB snapshots a Redis restart loses every queued task.
    public static func persistence(aofEnabled: Bool?, rdbSaveRules: String?) -> DoctorCheck {
        if aofEnabled == true {
            return DoctorCheck(check: "redis persistence", status: .ok, detail: "appendonly is on")
        }
        if let rules = rdbSaveRules, !rules.trimmingWhitespace().isEmpty {
            return DoctorCheck(check: "redis persistence", status: .ok,
                               detail: "RDB snapshots (save \(rules.trimmingWhitespace())); tasks queued since the last snapshot are lost on a crash")
        }
        if aofEnabled == nil, rdbSaveRules == nil {
            return DoctorCheck(check: "redis persistence", status: .skip, detail: "INFO persistence and CONFIG GET save were not readable")
        }
        return DoctorCheck(check: "redis persistence", status: .warn,
                           detail: "neither appendonly nor save rules: a Redis restart loses every queued task",
                           fix: "turn on appendonly yes (or RDB save rules) in redis.conf")
    }

    /// The queues a Celery worker consumes, from its container's command and args (`-Q a,b`, `-Qa`,
    /// `--queues a`, `--queues=a`), also inside a shell string such as `sh -c "celery worker -Q a"`.
    /// Nil when no `-Q` is given (Celery then consumes its default queue, `celery`).
    public static func consumedQueues(_ arguments: [String]) -> [String]? {
        let words = arguments.prefix(256).flatMap { $0.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init) }
        var found: [String]?
        var i = 0
        while i < words.count {
            let w = words[i]
            var value: String?
            if w == "-Q" || w == "--queues", i + 1 < words.count {
                value = words[i + 1]
                i += 1
            } else if w.hasPrefix("--queues=") {
                value = String(w.dropFirst("--queues=".count))
            } else if w.hasPrefix("-Q"), w.count > 2 {
                value = String(w.dropFirst(2))
            }
            if let value {
                let names = unquoted(value).split(separator: ",").map(String.init)
                found = (found ?? []) + names
            }
            i += 1
        }
        return found
    }

    /// The worker Deployment consumes the BatchQueue's `spec.queue`: otherwise the controller scales workers
    /// that never see the queue's tasks.
    /// With no command and no args the image's own command runs, which the pod template does not show: a skip.
    public static func consumesQueue(queue: String, deployment: String, arguments: [String]) -> DoctorCheck {
        let name = "\(deployment) -Q"
        if arguments.isEmpty {
            return DoctorCheck(check: name, status: .skip,
                               detail: "the worker container sets no command or args, so its image's own command runs and cannot be read here; check by hand that it has -Q \(queue)")
        }
        guard let consumed = consumedQueues(arguments) else {
            return DoctorCheck(check: name, status: .fail,
                               detail: "no -Q in the worker's command: it consumes Celery's default queue 'celery', not \(queue)",
                               fix: "add '-Q \(queue)' to the celery worker command of Deployment \(deployment)")
        }
        if consumed.contains(queue) {
            return DoctorCheck(check: name, status: .ok, detail: "consumes \(consumed.joined(separator: ","))")
        }
        return DoctorCheck(check: name, status: .fail,
                           detail: "consumes \(consumed.joined(separator: ",")), but its BatchQueue's spec.queue is \(queue)",
                           fix: "make the worker command '-Q \(queue)', or set the BatchQueue's spec.queue to the queue it consumes")
    }

    /// The arguments of a pod template's worker container, `command` then `args`: the container whose command
    /// or args run celery, else the first. Empty when there is none or it sets neither (the image's command runs).
    public static func workerArguments(containers: [(command: [String]?, args: [String]?)]) -> [String] {
        func runsCelery(_ c: (command: [String]?, args: [String]?)) -> Bool {
            ((c.command ?? []) + (c.args ?? [])).contains { $0.contains("celery") }
        }
        guard let worker = containers.first(where: runsCelery) ?? containers.first else { return [] }
        return (worker.command ?? []) + (worker.args ?? [])
    }

    /// The controller's `WorkersMisconfigured` condition for a BatchQueue's worker Deployment, from the same rules
    /// as `batchctl doctor` (`consumesQueue`, `hostnameArgument`): True naming each problem and its fix, False
    /// (`WorkersOK`) when both pass. When the container sets no command or args (its image's command runs,
    /// unseen): False (`CommandNotSet`) if the queue `hasCondition` already, else nil (none is added).
    public static func workersCondition(queue: String, deployment: String, arguments: [String], hasCondition: Bool) -> ConditionUpdate? {
        let type = ConditionType.workersMisconfigured
        guard !arguments.isEmpty else {
            guard hasCondition else { return nil }
            return ConditionUpdate(type: type, value: false, reason: "CommandNotSet",
                                   message: "The worker container of Deployment \(deployment) sets no command or args: its image's own command runs, which batchctl cannot read, so -Q and --hostname were not checked.")
        }
        let checks = [("WrongQueue", consumesQueue(queue: queue, deployment: deployment, arguments: arguments)),
                      ("HostnameNotPod", hostnameArgument(deployment: deployment, arguments: arguments))]
        let problems = checks.filter { $0.1.status != .ok }
        guard let first = problems.first else {
            return ConditionUpdate(type: type, value: false, reason: "WorkersOK",
                                   message: "Deployment \(deployment)'s workers consume \(queue) and are named after their pods.")
        }
        let found = problems.map { "\($0.1.check): \($0.1.detail)" + ($0.1.fix.map { "; fix: \($0)" } ?? "") }
        return ConditionUpdate(type: type, value: true, reason: first.0,
                               message: String("\(found.joined(separator: ". ")). 'batchctl doctor' shows the same checks.".prefix(2048)))
    }

    /// The worker's `--hostname` lets the controller see which pod is busy: it must be `celery@$(POD_NAME)`
    /// (an env var from the downward API, `metadata.name`). Nil hostname means Celery's default
    /// (`celery@<container hostname>`, which is the pod name on Kubernetes unless hostname is set).
    public static func hostnameArgument(deployment: String, arguments: [String]) -> DoctorCheck {
        let name = "\(deployment) hostname"
        let words = arguments.prefix(256).flatMap { $0.split(separator: " ").map(String.init) }
        var value: String?
        for (i, w) in words.enumerated() {
            if w == "--hostname" || w == "-n", i + 1 < words.count { value = words[i + 1] }
            else if w.hasPrefix("--hostname=") { value = String(w.dropFirst("--hostname=".count)) }
        }
        guard let value else {
            return DoctorCheck(check: name, status: .ok, detail: "no --hostname: Celery uses celery@<pod hostname>, the pod name")
        }
        let v = unquoted(value)
        if v.contains("POD_NAME") || v.contains("%h") || v.contains("HOSTNAME") {
            return DoctorCheck(check: name, status: .ok, detail: "--hostname \(v)")
        }
        return DoctorCheck(check: name, status: .warn,
                           detail: "--hostname \(v) does not name the pod: the controller cannot tell which pods are busy",
                           fix: "use --hostname celery@$(POD_NAME), with POD_NAME from the downward API (fieldRef metadata.name)")
    }

    /// Live heartbeats whose hostname maps to none of the queues' Deployments: the controller counts those
    /// workers as nobody's, so it may stop them mid-task. `unmapped` are those hostnames, of `seen` workers.
    public static func heartbeatHostnames(unmapped: [String], seen: Int, deployments: [String], listened: Bool) -> DoctorCheck {
        guard listened else {
            return DoctorCheck(check: "worker hostnames", status: .skip, detail: "not listening for heartbeats (--listen 0s)")
        }
        guard seen > 0 else {
            return DoctorCheck(check: "worker hostnames", status: .ok, detail: "no worker sent a heartbeat while listening")
        }
        if unmapped.isEmpty {
            return DoctorCheck(check: "worker hostnames", status: .ok,
                               detail: "\(seen) worker\(seen == 1 ? "" : "s") named celery@<pod> of a queue's Deployment")
        }
        let sorted = unmapped.sorted()
        let shown = sorted.prefix(5).joined(separator: ", ") + (sorted.count > 5 ? " and \(sorted.count - 5) more" : "")
        return DoctorCheck(check: "worker hostnames", status: .warn,
                           detail: "\(shown) map\(sorted.count == 1 ? "s" : "") to no queue's Deployment (\(deployments.joined(separator: ", "))): the controller cannot see that they are busy and may stop them mid-task",
                           fix: "start workers with --hostname celery@$(POD_NAME), POD_NAME from the downward API (fieldRef metadata.name)")
    }

    /// Ready worker pods should be heard: a Deployment with ready replicas but no heartbeat from any of its
    /// pods while listening has workers the controller cannot see (heartbeats off, another broker or
    /// database, another hostname), so it may stop them mid-task.
    public static func heartbeatsHeard(deployment: String, readyReplicas: Int, heardFrom: Int, listenedSeconds: Int) -> DoctorCheck {
        let name = "\(deployment) heartbeats"
        guard listenedSeconds > 0 else {
            return DoctorCheck(check: name, status: .skip, detail: "not listening for heartbeats (--listen 0s)")
        }
        if readyReplicas == 0 {
            return DoctorCheck(check: name, status: .ok, detail: "no ready pods, none expected")
        }
        if heardFrom == 0 {
            return DoctorCheck(check: name, status: .warn,
                               detail: "\(readyReplicas) ready pod\(readyReplicas == 1 ? "" : "s") but no heartbeat from celery@\(deployment)-... in \(listenedSeconds) s: the controller cannot see whether they are busy",
                               fix: "check the workers use this broker and database, keep heartbeats on (no --without-heartbeat) and --hostname celery@$(POD_NAME)")
        }
        return DoctorCheck(check: name, status: .ok, detail: "heard \(heardFrom) of \(readyReplicas) ready pod\(readyReplicas == 1 ? "" : "s")")
    }

    /// The pod's terminationGracePeriodSeconds against the longest task seen running: when the controller
    /// scales down, a task longer than the grace period is killed mid-run (and, with acks_late, run again).
    public static func gracePeriod(deployment: String, graceSeconds: Int?, longestTaskSeconds: Int?) -> DoctorCheck {
        let name = "\(deployment) grace period"
        let grace = graceSeconds ?? 30
        let source = graceSeconds == nil ? " (the default)" : ""
        guard let longest = longestTaskSeconds else {
            return DoctorCheck(check: name, status: .ok, detail: "terminationGracePeriodSeconds \(grace)\(source); no task seen running while listening")
        }
        if longest > grace {
            return DoctorCheck(check: name, status: .warn,
                               detail: "terminationGracePeriodSeconds \(grace)\(source), but a task ran at least \(longest) s: a scale-down kills it mid-run",
                               fix: "set terminationGracePeriodSeconds in Deployment \(deployment) above your longest task, with a margin (heartbeats show only a lower bound)")
        }
        return DoctorCheck(check: name, status: .ok, detail: "terminationGracePeriodSeconds \(grace)\(source), longest task seen \(longest) s")
    }

    /// Another autoscaler (HPA or KEDA ScaledObject) targeting the Deployment fights the controller.
    /// `autoscalers` are `Kind/name` of those whose scale target is the Deployment; nil when none could be read.
    public static func autoscalers(deployment: String, targeting autoscalers: [String]) -> DoctorCheck {
        let name = "\(deployment) autoscalers"
        if autoscalers.isEmpty {
            return DoctorCheck(check: name, status: .ok, detail: "no HPA or ScaledObject targets it")
        }
        return DoctorCheck(check: name, status: .fail,
                           detail: "\(autoscalers.sorted().joined(separator: ", ")) also scale\(autoscalers.count == 1 ? "s" : "") it: two controllers fight over its replicas",
                           fix: "delete \(autoscalers.sorted().joined(separator: ", ")): batchctl's controller scales this Deployment")
    }

    /// A one-word summary: the worst status among `checks` (ok for none).
    public static func worst(_ checks: [DoctorCheck]) -> CheckStatus {
        checks.map(\.status).max() ?? .ok
    }

    /// The value of `name` in an INFO reply (`name:value` lines); nil when absent.
    public static func infoField(_ info: String, _ name: String) -> String? {
        for line in info.split(whereSeparator: \.isNewline) where line.hasPrefix(name + ":") {
            return String(line.dropFirst(name.count + 1))
        }
        return nil
    }

    /// `text` without surrounding quotes (from a shell string).
    static func unquoted(_ text: String) -> String {
        var t = Substring(text)
        while let f = t.first, f == "'" || f == "\"" { t = t.dropFirst() }
        while let l = t.last, l == "'" || l == "\"" { t = t.dropLast() }
        return String(t)
    }

    private static func mib(_ bytes: Int) -> String { "\(bytes / (1024 * 1024)) MiB" }
}

/// How long the oldest running task of each worker has been running, at least, from heartbeats alone:
/// while a worker reports `active > 0` with an unchanged `processed` count, no task started, so the tasks
/// running at the last heartbeat were already running at the first of that run of heartbeats.
public struct TaskRunTracker: Sendable, Equatable {
    private struct Run: Sendable, Equatable {
        var processed: Int
        var since: Double
        var last: Double
    }

    private var runs: [String: Run] = [:]
    private var longest: [String: Double] = [:]

    public init() {}

    /// Feeds one heartbeat of `hostname` seen at `time` (seconds, any fixed origin). Bounded to 10,000 workers.
    public mutating func observe(hostname: String, active: Int, processed: Int, time: Double) {
        guard active > 0 else {
            runs[hostname] = nil
            return
        }
        if var run = runs[hostname], run.processed == processed {
            run.last = max(run.last, time)
            runs[hostname] = run
            longest[hostname] = max(longest[hostname] ?? 0, run.last - run.since)
        } else if runs.count < 10_000 || runs[hostname] != nil {
            runs[hostname] = Run(processed: processed, since: time, last: time)
        }
    }

    /// The longest time, in whole seconds, a task was seen running on any of `hostnames`; nil if none.
    public func longestSeconds(hostnames: some Sequence<String>) -> Int? {
        let seen = hostnames.compactMap { longest[$0] }
        guard let m = seen.max(), m >= 1 else { return nil }
        return m >= Double(Int.max) ? Int.max : Int(m)
    }
}
