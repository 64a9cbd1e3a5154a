import BatchCore
import FoundationEssentials

/// RFC 7386 JSON merge patches.
public enum MergePatch {
    /// The merge patch that turns `old` into `new`: changed keys with their new values, removed keys as `null`,
    /// objects compared recursively. Fields neither side knows about are left out, so the server keeps them.
    public static func diff(from old: JSONValue, to new: JSONValue) -> JSONValue? {
        guard case .object(let o) = old, case .object(let n) = new else { return old == new ? nil : new }
        var patch: [String: JSONValue] = [:]
        for (k, _) in o where n[k] == nil { patch[k] = .null }
        for (k, v) in n {
            guard let ov = o[k] else {
                patch[k] = v
                continue
            }
            if ov == v { continue }
            if case .object = ov, case .object = v {
                if let sub = diff(from: ov, to: v) { patch[k] = sub }
            } else {
                patch[k] = v
            }
        }
        return patch.isEmpty ? nil : .object(patch)
    }

    /// `value` as a JSONValue (through its JSON encoding).
    static func json<T: Encodable>(_ value: T) throws -> JSONValue {
        let data = try JSONEncoder().encode(value)
        return try JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// Sets `metadata.resourceVersion` in a patch, making it a precondition (stale → 409 Conflict).
    static func withPrecondition(_ patch: JSONValue?, resourceVersion: String?) -> JSONValue {
        var top: [String: JSONValue] = [:]
        if case .object(let o)? = patch { top = o }
        if let rv = resourceVersion, !rv.isEmpty {
            var meta: [String: JSONValue] = [:]
            if case .object(let m)? = top["metadata"] { meta = m }
            meta["resourceVersion"] = .string(rv)
            top["metadata"] = .object(meta)
        }
        return .object(top)
    }
}
