/// A health check the ramp waits on: a PromQL expression that returns a non-empty result while the service
/// it watches is healthy (`sum(pg_stat_activity_count{datname="app"}) < 80`), as a Prometheus alert rule is
/// the opposite. Set in the BatchQueuePolicy (`spec.guards`); every claimed queue of the namespace uses them.

import MemberwiseInit

@MemberwiseInit(.public)
public struct Guard: Sendable, Equatable {
    /// A DNS label naming the guard in conditions, Events and metrics (`redis-memory`).
    public var name: String
    /// The PromQL instant query; healthy while its result is non-empty.
    public var expr: String
    /// How long the expression must have returned a result before the guard counts as healthy (0: at once).
    public var forDuration: TimeSpan = .zero

    /// The most guards a policy may hold (each is one Prometheus query per pass).
    public static let maxCount = 20
    /// The longest expression accepted, in bytes.
    public static let maxExprLength = 4096
}

/// A guard as a BatchQueue's `spec.guards` holds it (the API server checked its shape against the CRD schema).
public struct QueueGuard: Sendable, Hashable, Codable {
    public var name: String
    public var expr: String
    /// A Go duration such as `30s`.
    public var `for`: String?
    public init(name: String, expr: String, for forDuration: String? = nil) {
        self.name = name
        self.expr = expr
        self.for = forDuration
    }
}

extension BatchQueue {
    /// The guards this queue's ramp waits on: the policy's, with this queue's `spec.guards` added (one with a
    /// policy guard's name replaces it). A queue guard whose `for` does not parse is returned in `invalid`, with
    /// the reason, so it reads as unknown (and holds) rather than vanish.
    public func guards(policy: [Guard]) -> (guards: [Guard], invalid: [String: String]) {
        var all = policy
        var invalid: [String: String] = [:]
        for (i, g) in (spec.guards ?? []).prefix(Guard.maxCount).enumerated() {
            var forDuration = TimeSpan.zero
            if let text = g.for {
                if let span = try? TimeSpan.parse(text) { forDuration = span } else {
                    invalid[g.expr] = "spec.guards[\(i)].for \"\(String(text.prefix(40)))\" of the BatchQueue is not a duration such as 30s; fix it (kubectl edit bq)"
                }
            }
            let guardOfQueue = Guard(name: g.name, expr: g.expr, forDuration: forDuration)
            if let j = all.firstIndex(where: { $0.name == g.name }) { all[j] = guardOfQueue } else { all.append(guardOfQueue) }
        }
        return (all, invalid)
    }
}

/// One guard as Prometheus answered this pass.
public enum GuardReading: Sendable, Hashable {
    /// A non-empty result; `value` is the first sample's value.
    case healthy(value: Double)
    /// An empty result: the condition the expression states does not hold.
    case failing
    /// No answer to trust (Prometheus unreachable, a query error, a scalar result): never ramp blind.
    case unknown(reason: String)
}

/// What a BatchQueue's status records about one guard: its state, the last value read and since when the state holds.
@MemberwiseInit(.public)
public struct GuardStatus: Sendable, Hashable, Codable {
    public var name: String
    /// `Healthy`, `Failing` or `Unknown`.
    public var state: String
    /// The last value the expression returned (Prometheus's text for it), kept while it fails.
    public var value: String?
    /// When `value` was read.
    public var valueAt: KubeTime?
    /// When the guard entered `state`.
    public var since: KubeTime
    /// Why the guard is unknown.
    public var reason: String?

    public static let healthy = "Healthy"
    public static let failing = "Failing"
    public static let unknown = "Unknown"
}

extension GuardReading {
    /// Starts the reason of an unknown reading when Prometheus gave no answer at all (the `Guarded` condition's
    /// reason is then `PrometheusUnreachable`).
    public static let unreachablePrefix = "Prometheus unreachable"

    /// The status state name.
    public var state: String {
        switch self {
        case .healthy: return GuardStatus.healthy
        case .failing: return GuardStatus.failing
        case .unknown: return GuardStatus.unknown
        }
    }

    /// A sample value as Prometheus prints small ones (`0.75`, `1048576`), bounded in length.
    public static func text(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "NaN" : (value > 0 ? "+Inf" : "-Inf") }
        if value.rounded() == value, abs(value) < 1e15 { return String(Int64(value)) }
        return String(String(value).prefix(24))
    }
}

/// The guards' verdict for one queue this pass, from its readings and the states its status recorded.
struct GuardVerdict {
    /// The statuses to write, in the policy's order.
    var statuses: [GuardStatus] = []
    /// Guards that keep the ramp from stepping up (failing, unknown, or healthy for less than `for`), in order.
    var holding: [GuardStatus] = []
    /// The earliest time a guard that is failing now started failing, if one is.
    var failingSince: KubeTime?

    /// Updates each guard's recorded state from `readings`, by expression (a guard without a reading is unknown).
    init(guards: [Guard], readings: [String: GuardReading], previous: [GuardStatus], now: KubeTime) {
        for g in guards {
            let reading = readings[g.expr] ?? .unknown(reason: "it was not read this pass")
            let old = previous.first { $0.name == g.name }
            var s = GuardStatus(name: g.name, state: reading.state, value: old?.value, valueAt: old?.valueAt,
                                since: old?.state == reading.state ? old?.since ?? now : now)
            switch reading {
            case let .healthy(value):
                s.value = GuardReading.text(value)
                s.valueAt = now
            case .failing:
                if s.since < (failingSince ?? .distantFuture) { failingSince = s.since }
            case let .unknown(reason):
                s.reason = String(reason.prefix(512))
            }
            statuses.append(s)
            let healthyLongEnough = s.state == GuardStatus.healthy
                && now - s.since >= g.forDuration.duration
            if !healthyLongEnough { holding.append(s) }
        }
    }

    /// The `Guarded` condition's message for the holding guards.
    func heldMessage(now: KubeTime) -> (reason: String, message: String) {
        let parts = holding.map { s -> String in
            let last = s.value.map { v in " (last value \(v) at \(s.valueAt.map(TimeText.utc) ?? "?"))" } ?? ""
            switch s.state {
            case GuardStatus.failing:
                return "guard \(s.name) is failing since \(TimeText.utc(s.since)): its expression returned no result\(last)"
            case GuardStatus.unknown:
                return "guard \(s.name) is unknown: \(s.reason ?? "no answer")"
            default:
                return "guard \(s.name) is healthy (value \(s.value ?? "?")) but not yet for its 'for' duration (since \(TimeText.utc(s.since)))"
            }
        }
        let reason: String
        if holding.contains(where: { $0.state == GuardStatus.failing }) {
            reason = "GuardFailing"
        } else if holding.contains(where: { $0.state == GuardStatus.unknown && ($0.reason ?? "").hasPrefix(GuardVerdict.unreachablePrefix) }) {
            reason = "PrometheusUnreachable"
        } else if holding.contains(where: { $0.state == GuardStatus.unknown }) {
            reason = "GuardUnknown"
        } else {
            reason = "GuardRecovering"
        }
        return (reason, parts.joined(separator: "; ") + "; replicas are held (no step up) until every guard is healthy.")
    }

    static let unreachablePrefix = GuardReading.unreachablePrefix
}

extension KubeTime {
    /// Later than any time batchctl sees.
    static let distantFuture = KubeTime(microsecondsSinceEpoch: Int64.max / 2)
}
