// Small text helpers the modules below the CLI use instead of Foundation's NSString methods, so that the
// controller's binary links FoundationEssentials only (see BENCHMARKS.md, controller RSS).

extension StringProtocol {
    /// The text followed by spaces up to `width` characters (unchanged when already as wide).
    public func padded(to width: Int) -> String {
        String(self) + String(repeating: " ", count: Swift.max(0, width - count))
    }
}

extension Double {
    /// The number with exactly `digits` decimals, rounded half away from zero: `3.14159.fixed(1)` is `"3.1"`.
    public func fixed(_ digits: Int) -> String {
        guard isFinite else { return "\(self)" }
        var scale = 1.0
        for _ in 0..<max(0, digits) { scale *= 10 }
        let scaled = (abs(self) * scale).rounded()
        guard scaled < 9e15 else { return "\(self)" }
        let whole = Int(scaled)
        let intPart = whole / Int(scale), frac = whole % Int(scale)
        let sign = self < 0 && whole != 0 ? "-" : ""
        guard digits > 0 else { return sign + "\(intPart)" }
        let fracText = String(frac)
        return sign + "\(intPart)." + String(repeating: "0", count: digits - fracText.count) + fracText
    }
}

/// JSON string literals (RFC 8259), the one escaper for the JSON batchctl writes by hand (the webhook payloads,
/// KubeSim's objects). Quote, backslash, `\n`, `\r`, `\t` get their short escapes, other control characters
/// `\u00XX`; with `escapingHTML` also `<`, `>`, `&`, U+2028 and U+2029, as Go's encoding/json writes them (what
/// kube-apiserver sends).
public enum JSONString {
    /// `text` as a JSON string literal, quotes included.
    public static func quoted(_ text: String, escapingHTML: Bool = false) -> String {
        var out = ""
        write(text, escapingHTML: escapingHTML, into: &out)
        return out
    }

    /// Appends `text` as a JSON string literal to `out`.
    public static func write(_ text: String, escapingHTML: Bool = false, into out: inout String) {
        out += "\""
        for u in text.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<" where escapingHTML: out += "\\u003c"
            case ">" where escapingHTML: out += "\\u003e"
            case "&" where escapingHTML: out += "\\u0026"
            default:
                if u.value < 0x20 || (escapingHTML && (u.value == 0x2028 || u.value == 0x2029)) {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}
