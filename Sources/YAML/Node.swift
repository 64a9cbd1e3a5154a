/// A position in a YAML text, 1-based, for messages.

import MemberwiseInit

@MemberwiseInit(.public)
public struct Mark: Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public var description: String { "line \(line), column \(column)" }
}

/// A composed YAML node: what the text says, before any schema turns scalars into numbers or booleans.
///
/// Aliases are resolved to (copies of) their anchored nodes while composing, so readers see only
/// scalars, mappings and sequences.
public indirect enum Node: Sendable, Hashable {
    case scalar(Scalar)
    case mapping(Mapping)
    case sequence(Sequence)

    /// Where the node starts (1-based); built nodes have line 0.
    public var mark: Mark {
        switch self {
        case let .scalar(s): s.mark
        case let .mapping(m): m.mark
        case let .sequence(s): s.mark
        }
    }

    /// A plain-style scalar, as written (for numbers, booleans and other values meant to be resolved).
    public static func plain(_ text: String) -> Node { .scalar(Scalar(text, style: .plain)) }

    /// A string scalar: plain when that reads back as the same string, double-quoted otherwise.
    public static func string(_ text: String) -> Node {
        .scalar(Scalar(text, style: Scalar.isSafePlainString(text) ? .plain : .doubleQuoted))
    }

    /// A block mapping of string keys, in the order given.
    public static func mapping(_ pairs: [(String, Node)]) -> Node {
        .mapping(Mapping(pairs.map { (key: Node.string($0.0), value: $0.1) }))
    }

    /// A sequence; `flow: true` writes it on one line (`[a, b]`).
    public static func sequence(_ nodes: [Node], flow: Bool = false) -> Node {
        .sequence(Sequence(nodes, style: flow ? .flow : .block))
    }

    /// The value under `key` when this is a mapping with a scalar key equal to `key`.
    public subscript(key: String) -> Node? {
        guard case let .mapping(m) = self else { return nil }
        return m[key]
    }

    /// The text of a scalar node; nil for mappings and sequences.
    public var scalarText: String? {
        if case let .scalar(s) = self { return s.string }
        return nil
    }

    /// The scalar itself; nil for mappings and sequences.
    public var scalarValue: Scalar? {
        if case let .scalar(s) = self { return s }
        return nil
    }

    /// Whether this is a plain `null`, `~` or empty scalar (what YAML reads as null).
    public var isNull: Bool {
        if case let .scalar(s) = self, s.style == .plain, s.tag == nil || s.tag == "tag:yaml.org,2002:null" {
            return Scalar.nullSpellings.contains(s.string)
        }
        if case let .scalar(s) = self, s.tag == "tag:yaml.org,2002:null" { return true }
        return false
    }
}

extension Node {
    /// A scalar: its text, the style it was written in, and an explicit tag if it had one.
    public struct Scalar: Sendable, Hashable {
        public enum Style: Sendable, Hashable {
            case plain, singleQuoted, doubleQuoted, literal, folded
        }

        public var string: String
        public var style: Style
        /// The resolved explicit tag (such as `tag:yaml.org,2002:str` for `!!str`), or nil.
        public var tag: String?
        public var mark: Mark

        public init(_ string: String, style: Style = .plain, tag: String? = nil, mark: Mark = Mark(line: 0, column: 0)) {
            self.string = string
            self.style = style
            self.tag = tag
            self.mark = mark
        }

        static let nullSpellings: Set<String> = ["", "~", "null", "Null", "NULL"]
        /// YAML 1.1 booleans as well as 1.2's: a plain `yes` or `off` must be quoted to stay a string for
        /// every reader (kubectl's YAML library among them).
        static let boolSpellings: Set<String> = [
            "true", "True", "TRUE", "false", "False", "FALSE",
            "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N",
        ]

        /// Whether `text` written as a plain scalar reads back as that same string: plain syntax allows it
        /// (`isPlainSyntax`) and no schema would read it as null, a boolean or a number.
        public static func isSafePlainString(_ text: String) -> Bool {
            isPlainSyntax(text) && !nullSpellings.contains(text) && !boolSpellings.contains(text) && !looksNumeric(text)
        }

        /// Whether `text` can be written as a plain scalar at all: not empty, no leading or trailing space,
        /// no indicator at the start, no `: ` or ` #` inside, no trailing `:`, printable ASCII only.
        public static func isPlainSyntax(_ text: String) -> Bool {
            guard let first = text.unicodeScalars.first, let last = text.unicodeScalars.last else { return false }
            if first == " " || last == " " || last == ":" { return false }
            // At the start of a line these are document markers.
            if text.hasPrefix("---") || text.hasPrefix("...") { return false }
            // `-x` and `:x` may be plain when no space follows, but quoting them costs nothing.
            if "-?:,[]{}#&*!|>'\"%@`".unicodeScalars.contains(first) && !(first == "-" && looksNumeric(text)) { return false }
            for u in text.unicodeScalars where u.value < 0x20 || u.value > 0x7E { return false }
            return !text.contains(": ") && !text.contains(" #")
        }

        /// Integers, floats (including `.inf` and `.nan`), and YAML 1.1 forms such as `0x1F`, `0o17`, `1_000` or `1:30`.
        static func looksNumeric(_ text: String) -> Bool {
            var t = Substring(text)
            if t.first == "+" || t.first == "-" { t = t.dropFirst() }
            if [".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN"].contains(String(t)) { return true }
            guard let f = t.first, f.isNumber || f == "." else { return false }
            // Anything starting with a digit (or a dot then a digit) made only of digits and number punctuation.
            let allowed = Set("0123456789abcdefABCDEFxXoObB._:+-eE")
            if t.first == "." && !(t.dropFirst().first?.isNumber ?? false) { return false }
            return t.allSatisfy { allowed.contains($0) }
        }
    }

    /// A mapping's entries in document order.
    public struct Mapping: Sendable, Hashable, RandomAccessCollection {
        public var entries: [Entry]
        public var mark: Mark

        public struct Entry: Sendable, Hashable {
            public var key: Node
            public var value: Node
        }

        public init(_ pairs: [(key: Node, value: Node)], mark: Mark = Mark(line: 0, column: 0)) {
            entries = pairs.map { Entry(key: $0.key, value: $0.value) }
            self.mark = mark
        }

        public var startIndex: Int { entries.startIndex }
        public var endIndex: Int { entries.endIndex }
        public subscript(position: Int) -> (key: Node, value: Node) { (entries[position].key, entries[position].value) }

        /// The value of the first entry whose key is the scalar `key`.
        public subscript(key: String) -> Node? {
            entries.first { if case let .scalar(s) = $0.key { s.string == key } else { false } }?.value
        }
    }

    /// A sequence's items in document order.
    public struct Sequence: Sendable, Hashable, RandomAccessCollection {
        public enum Style: Sendable, Hashable { case block, flow }

        public var nodes: [Node]
        public var style: Style
        public var mark: Mark

        public init(_ nodes: [Node], style: Style = .block, mark: Mark = Mark(line: 0, column: 0)) {
            self.nodes = nodes
            self.style = style
            self.mark = mark
        }

        public var startIndex: Int { nodes.startIndex }
        public var endIndex: Int { nodes.endIndex }
        public subscript(position: Int) -> Node { nodes[position] }
    }
}
