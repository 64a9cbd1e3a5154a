extension Node.Scalar {
    /// A scalar's value under YAML 1.2's core schema (what `kubectl` and Kubernetes read): quoted
    /// scalars and `!!str` are strings; plain ones may be null, a boolean, an integer or a float.
    public enum Value: Sendable, Hashable {
        case null
        case bool(Bool)
        case int(Int)
        case double(Double)
        case string(String)
    }

    /// This scalar resolved with the core schema.
    public var value: Value {
        if tag == "tag:yaml.org,2002:str" || (tag == nil && style != .plain) { return .string(string) }
        if Self.nullSpellings.contains(string) { return .null }
        switch string {
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: break
        }
        if let i = Self.integer(string) { return .int(i) }
        if let d = Self.float(string) { return .double(d) }
        return .string(string)
    }

    static func integer(_ s: String) -> Int? {
        if s.hasPrefix("0x") { return Int(s.dropFirst(2), radix: 16) }
        if s.hasPrefix("0o") { return Int(s.dropFirst(2), radix: 8) }
        guard let f = s.first, f.isNumber || ((f == "-" || f == "+") && s.count > 1) else { return nil }
        return Int(s)
    }

    static func float(_ s: String) -> Double? {
        switch s {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .infinity
        case "-.inf", "-.Inf", "-.INF": return -.infinity
        case ".nan", ".NaN", ".NAN": return .nan
        default: break
        }
        // The core schema's float: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
        var t = Substring(s)
        if t.first == "-" || t.first == "+" { t = t.dropFirst() }
        guard let f = t.first, f.isASCII, f.isNumber || f == "." else { return nil }
        guard t.allSatisfy({ $0.isASCII && ($0.isNumber || ".eE+-".contains($0)) }) else { return nil }
        return Double(s)
    }
}
