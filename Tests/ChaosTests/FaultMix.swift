import Foundation

/// The KubeSim fault mix of issue #12: 20 % of API requests meet a fault.
///
/// - Writes (`update`, `patch`): 409 Conflict, 429 with `Retry-After: 1`, 500, or 200 ms of latency, 5 % each.
/// - Everything else (`get`, `list`, `watch`, `create`, `delete`): 429, 500, or 200 ms, 1/15 each (a 409 is
///   a write's answer).
/// - Watch streams: one in five is dropped, abruptly, 3 s after it starts.
///
/// KubeSim applies the first rule that fires, so the k-th rule of a group fires with p / (1 − k·p): each kind
/// then has its unconditional share. Faults are answered before the request is handled: an injected error
/// wrote nothing.
enum FaultMix {
    static let rate = 0.2

    static var spec: String {
        var rules: [String] = []
        func group(_ verb: String, _ kinds: [String]) {
            let p = rate / Double(kinds.count)
            for (k, kind) in kinds.enumerated() {
                rules.append("\(verb) /api*/** \(kind),probability=\(p / (1 - Double(k) * p))")
            }
        }
        let errors = ["status=429,retryAfter=1", "status=500", "latencyMs=200"]
        for verb in ["update", "patch"] { group(verb, ["status=409"] + errors) }
        for verb in ["get", "list", "watch", "create", "delete", "deletecollection"] { group(verb, errors) }
        rules.append("watch /api*/** dropWatchAfterMs=3000,probability=\(rate)")
        return rules.joined(separator: ";")
    }
}
