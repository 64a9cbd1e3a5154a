/// Writes `Node` trees as block-style YAML, the way kubectl prints objects: two-space indentation,
/// sequence dashes at their key's indentation, no line folding, ASCII only (other characters escaped in
/// double quotes). What it writes composes back to the same tree (up to scalar styles).
public enum YAMLEmitter {
    /// The document's text, ending with a newline.
    public static func emit(_ node: Node) -> String {
        var out = ""
        write(node, indent: 0, into: &out)
        return out
    }

    static func write(_ node: Node, indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        switch node {
        case let .scalar(s):
            out += pad + scalar(s) + "\n"
        case let .sequence(seq):
            if seq.isEmpty || seq.style == .flow { out += pad + inline(node) + "\n"; return }
            for item in seq { writeItem(item, indent: indent, into: &out) }
        case let .mapping(m):
            if m.isEmpty { out += pad + "{}\n"; return }
            for (key, value) in m { writeEntry(key: key, value: value, indent: indent, into: &out) }
        }
    }

    static func writeEntry(key: Node, value: Node, indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        let k = keyText(key)
        // YAML allows at most 1024 characters in an implicit key; longer ones, and collections used as keys,
        // take the explicit `? ` form.
        out += needsExplicitKey(key, k) ? pad + "? " + k + "\n" + pad + ":" : pad + k + ":"
        switch value {
        case let .mapping(m) where !m.isEmpty:
            out += "\n"
            write(value, indent: indent + 2, into: &out)
        case let .sequence(s) where !s.isEmpty && s.style == .block:
            out += "\n"
            write(value, indent: indent, into: &out)
        default:
            out += " " + inline(value) + "\n"
        }
    }

    static func writeItem(_ item: Node, indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        switch item {
        case let .mapping(m) where !m.isEmpty:
            // The first entry on the dash's line, the rest under it.
            var body = ""
            write(item, indent: indent + 2, into: &body)
            out += pad + "- " + body.dropFirst(indent + 2)
        case let .sequence(s) where !s.isEmpty && s.style == .block:
            var body = ""
            write(item, indent: indent + 2, into: &body)
            out += pad + "- " + body.dropFirst(indent + 2)
        default:
            out += pad + "- " + inline(item) + "\n"
        }
    }

    static let maxImplicitKey = 1000

    /// A node on one line: scalars, empty collections, and flow collections (written as they were read).
    static func inline(_ node: Node, inFlow: Bool = false) -> String {
        switch node {
        case let .scalar(s): return scalar(s, inFlow: inFlow)
        case let .mapping(m):
            return "{" + m.map { entry in
                let k = keyText(entry.key, inFlow: true)
                return (needsExplicitKey(entry.key, k) ? "? " + k + " " : k) + ": " + inline(entry.value, inFlow: true)
            }.joined(separator: ", ") + "}"
        case let .sequence(s):
            return "[" + s.map { inline($0, inFlow: true) }.joined(separator: ", ") + "]"
        }
    }

    static func keyText(_ key: Node, inFlow: Bool = false) -> String {
        if case let .scalar(s) = key { return scalar(s, inFlow: inFlow) }
        return inline(key, inFlow: true)   // a collection as a key, in flow style (never in what batchctl writes)
    }

    static func needsExplicitKey(_ key: Node, _ text: String) -> Bool {
        if case .scalar = key { return text.count > maxImplicitKey }
        return true
    }

    /// Characters a plain scalar may hold inside `[...]` or `{...}` for every parser: libyaml (YAML 1.1)
    /// refuses a `:` there even when no space follows, and `,[]{}` end the scalar; anything else is quoted.
    static func isFlowSafe(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || "._/+- ".contains(c))
    }

    /// A resolved null, boolean or number as a plain scalar every parser reads the same; nil for strings.
    static func canonical(_ value: Node.Scalar.Value) -> String? {
        switch value {
        case .null: "null"
        case let .bool(b): b ? "true" : "false"
        case let .int(i): String(i)
        case let .double(d): d.isNaN ? ".nan" : d.isInfinite ? (d < 0 ? "-.inf" : ".inf") : "\(d)"
        case .string: nil
        }
    }

    static func scalar(_ s: Node.Scalar, inFlow: Bool = false) -> String {
        let tag = s.tag.map { $0.hasPrefix("tag:yaml.org,2002:") ? "!!" + $0.dropFirst(18) + " " : "!<\($0)> " } ?? ""
        // An untagged plain empty scalar is null; `~` says so in block and flow context alike.
        if s.style == .plain && s.string.isEmpty && s.tag == nil { return "~" }
        if s.style == .plain && Node.Scalar.isPlainSyntax(s.string) {
            if !inFlow || s.string.allSatisfy(Self.isFlowSafe) { return tag + s.string }
            // Quoting would turn a null, boolean or number into a string: write its canonical form instead.
            if s.tag == nil, let canonical = Self.canonical(s.value) { return canonical }
        }
        if s.style == .singleQuoted && s.string.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value <= 0x7E }) {
            return tag + "'" + s.string.replacingAll("'", with: "''") + "'"
        }
        return tag + doubleQuoted(s.string)
    }

    /// A double-quoted scalar: `\\`, `\"`, `\n`, `\t`, `\r`, then `\x`, `\u` or `\U` for other control and
    /// non-ASCII characters (as libyaml writes them).
    public static func doubleQuoted(_ text: String) -> String {
        var out = "\""
        for u in text.unicodeScalars {
            switch u {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value >= 0x20 && u.value <= 0x7E { out.unicodeScalars.append(u) }
                else if u.value <= 0xFF { out += "\\x" + hex(u.value, width: 2) }
                else if u.value <= 0xFFFF { out += "\\u" + hex(u.value, width: 4) }
                else { out += "\\U" + hex(u.value, width: 8) }
            }
        }
        return out + "\""
    }

    static func hex(_ v: UInt32, width: Int) -> String {
        let digits = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

extension String {
    /// Every occurrence of `target` replaced (without Foundation).
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }
}
