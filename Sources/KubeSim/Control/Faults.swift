import Foundation
import MemberwiseInit
import Synchronization

/// One fault-injection rule, matched per route pattern and verb.
///
/// Spec syntax (`--faults` / `POST /kubesim/faults`): either a JSON array of rule objects with the field
/// names below, or rules separated by `;`, each `VERB PATH key=value,key=value`, for example
/// `patch /apis/apps/v1/namespaces/*/deployments/*/scale status=409,count=2;
///  get /api/** latencyMs=200; watch /apis/apps/v1/** dropWatchAfterEvents=1`.
/// `VERB` is a Kubernetes verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`), an HTTP method,
/// or `*`. In `PATH`, `*` matches within one segment and `**` across segments.
@MemberwiseInit(.public)
public struct FaultRule: Sendable, Codable, Equatable {
    /// Route pattern.
    public var path: String = "**"
    /// Verb or method (`*` = any).
    public var verb: String = "*"
    /// Added latency.
    public var latencyMs: Int?
    /// Answer with this status instead (409, 429, 500, ...).
    public var status: Int?
    /// `Retry-After` seconds for 429/5xx.
    public var retryAfter: Int?
    /// Fire only this many times (nil: always).
    public var count: Int?
    /// Fire with this probability (nil: 1); for a watch-dropping rule, the share of watches dropped.
    public var probability: Double?
    /// For 429: answer with a `Status` body instead of APF's plain text.
    public var statusBody: Bool?
    /// End watch streams (abruptly) after this many events.
    public var dropWatchAfterEvents: Int?
    /// End watch streams (abruptly) after this many milliseconds.
    public var dropWatchAfterMs: Int?
    /// Only requests of this user (nil: anyone's), for example to delay one controller replica's Lease
    /// writes (`update /apis/coordination.k8s.io/** latencyMs=30000,user=admin`).
    public var user: String?

    /// Parses a spec (JSON array or the compact form).
    public static func parse(spec: String) throws -> [FaultRule] {
        let trimmed = spec.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return [] }
        if trimmed.hasPrefix("[") {
            do {
                return try JSONDecoder().decode([FaultRule].self, from: Data(trimmed.utf8))
            } catch {
                throw ConfigurationError("invalid fault spec JSON: \(error)")
            }
        }
        return try trimmed.split(separator: ";").map { part in
            let words = part.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard words.count >= 2 else { throw ConfigurationError("fault rule '\(part)' needs VERB PATH [key=value,...]") }
            var rule = FaultRule(path: words[1], verb: words[0].lowercased())
            for setting in words.dropFirst(2).joined(separator: ",").split(separator: ",") {
                let kv = setting.split(separator: "=", maxSplits: 1).map(String.init)
                guard kv.count == 2 else { throw ConfigurationError("fault setting '\(setting)' is not key=value") }
                let int = Int(kv[1])
                switch kv[0] {
                case "latencyMs": rule.latencyMs = int
                case "status": rule.status = int
                case "retryAfter": rule.retryAfter = int
                case "count": rule.count = int
                case "probability": rule.probability = Double(kv[1])
                case "statusBody": rule.statusBody = kv[1] == "true"
                case "dropWatchAfterEvents": rule.dropWatchAfterEvents = int
                case "dropWatchAfterMs": rule.dropWatchAfterMs = int
                case "user": rule.user = kv[1]
                default: throw ConfigurationError("unknown fault setting '\(kv[0])'")
                }
            }
            return rule
        }
    }

    func matches(method: String, verb: String, path: String, user: String? = nil) -> Bool {
        if let only = self.user, only != user { return false }
        let v = self.verb.lowercased()
        guard v == "*" || v == verb || v == method.lowercased() else { return false }
        return Glob.matches(Array(self.path.utf8)[...], Array(path.utf8)[...])
    }

    /// The response this rule forces, if it forces one.
    func response() -> APIResponse? {
        guard let status else { return nil }
        switch status {
        case 429 where statusBody != true:
            return .text("Too many requests, please try again later.\n", status: 429,
                         headers: [("Retry-After", String(retryAfter ?? 1)), ("X-Kubernetes-PF-FlowSchema-UID", "kubesim"),
                                   ("X-Kubernetes-PF-PriorityLevel-UID", "kubesim")])
        case 429:
            return .error(.tooManyRequests(retryAfter: retryAfter ?? 1))
        case 409:
            return .error(APIError(code: 409, reason: "Conflict", message: "Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again (injected)"))
        case 500:
            return .error(APIError(code: 500, reason: "InternalError", message: "Internal error occurred: injected fault", retryAfterSeconds: retryAfter))
        default:
            return .error(APIError(code: status, reason: "", message: "injected fault", retryAfterSeconds: retryAfter))
        }
    }
}

/// What a matching rule does to one request.
struct FaultHit {
    var latencyMilliseconds: Int
    var rule: FaultRule
    func response() -> APIResponse? { rule.response() }
}

/// Applies fault rules (counts and probabilities are tracked across requests).
public final class FaultInjector: Sendable {
    private let rules: Mutex<[(rule: FaultRule, fired: Int)]>

    init(rules: [FaultRule]) {
        self.rules = Mutex(rules.map { ($0, 0) })
    }

    /// Replaces the rules.
    public func set(_ newRules: [FaultRule]) {
        rules.withLock { $0 = newRules.map { ($0, 0) } }
    }

    /// The current rules.
    public var current: [FaultRule] { rules.withLock { $0.map(\.rule) } }

    /// The first rule that fires for this request (consuming one of its `count`).
    func match(method: String, verb: String, path: String, user: String? = nil) -> FaultHit? {
        rules.withLock { rs in
            for i in rs.indices where rs[i].rule.matches(method: method, verb: verb, path: path, user: user) {
                let r = rs[i].rule
                if r.dropWatchAfterEvents != nil || r.dropWatchAfterMs != nil, r.status == nil, r.latencyMs == nil { continue }
                if let count = r.count, rs[i].fired >= count { continue }
                if let p = r.probability, Double.random(in: 0..<1) >= p { continue }
                rs[i].fired += 1
                return FaultHit(latencyMilliseconds: r.latencyMs ?? 0, rule: r)
            }
            return nil
        }
    }

    /// The watch-dropping rule for a watch on `path`, if any fires (consuming one of its `count`, drawn against its `probability`).
    func watchDrop(path: String) -> FaultRule? {
        rules.withLock { rs in
            for i in rs.indices where rs[i].rule.matches(method: "GET", verb: "watch", path: path) {
                let r = rs[i].rule
                guard r.dropWatchAfterEvents != nil || r.dropWatchAfterMs != nil else { continue }
                if let count = r.count, rs[i].fired >= count { continue }
                if let p = r.probability, Double.random(in: 0..<1) >= p { continue }
                rs[i].fired += 1
                return r
            }
            return nil
        }
    }
}

extension FaultRule {
    var dropWatchAfterMilliseconds: Int? { dropWatchAfterMs }
}

/// `*` (one segment) and `**` (any depth) path patterns.
enum Glob {
    static func matches(_ pattern: ArraySlice<UInt8>, _ text: ArraySlice<UInt8>) -> Bool {
        guard let p = pattern.first else { return text.isEmpty }
        let star = UInt8(ascii: "*")
        if p == star {
            let doubleStar = pattern.dropFirst().first == star
            let rest = doubleStar ? pattern.dropFirst(2) : pattern.dropFirst()
            var t = text
            while true {
                if matches(rest, t) { return true }
                guard let c = t.first else { return false }
                if !doubleStar && c == UInt8(ascii: "/") { return false }
                t = t.dropFirst()
            }
        }
        guard let c = text.first, c == p else { return false }
        return matches(pattern.dropFirst(), text.dropFirst())
    }
}
