import CLibYAML
import MemberwiseInit

/// Why a YAML text could not be read: the parser's problem and where it is. The description never
/// quotes the text itself (a kubeconfig line may hold a token).
@MemberwiseInit(.public)
public struct YAMLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var problem: String
    public var mark: Mark?

    public var description: String { mark.map { "\(problem) at \($0)" } ?? problem }
}

/// Composes YAML text into `Node` trees with libyaml's parser.
///
/// Rules beyond YAML's own, so that a configuration means one thing: a mapping may not repeat a key;
/// aliases are expanded, but a document may hold at most `maxNodes` nodes after expansion (which
/// stops "billion laughs" texts); nesting is limited to `maxDepth`.
public enum YAMLComposer {
    public static let maxNodes = 100_000
    public static let maxDepth = 200

    /// The single document in `text`, or nil when the text holds none (empty, or only comments).
    /// - Throws: `YAMLError` for invalid YAML, duplicate keys, more than one document, or limits exceeded.
    public static func compose(_ text: String) throws(YAMLError) -> Node? {
        let documents = try composeAll(text)
        if documents.count > 1 {
            throw YAMLError(problem: "holds \(documents.count) YAML documents where one is expected; remove the extra '---' sections", mark: nil)
        }
        return documents.first
    }

    /// Every document in `text`, in order (a `---`-separated stream).
    public static func composeAll(_ text: String) throws(YAMLError) -> [Node] {
        var bytes = Array(text.utf8)
        if bytes.isEmpty { return [] }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw YAMLError(problem: "could not start the YAML parser (out of memory)", mark: nil) }
        defer { yaml_parser_delete(&parser) }
        return try bytes.withUnsafeMutableBufferPointer { (buffer) throws(YAMLError) -> [Node] in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var builder = Builder()
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { throw Self.parserError(parser) }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { break }
                try builder.handle(event)
            }
            return builder.documents
        }
    }

    static func parserError(_ parser: yaml_parser_t) -> YAMLError {
        let problem = parser.problem.map { String(cString: $0) } ?? "unreadable YAML"
        let mark = Mark(line: Int(parser.problem_mark.line) + 1, column: Int(parser.problem_mark.column) + 1)
        if let context = parser.context.map({ String(cString: $0) }) {
            return YAMLError(problem: "\(problem) (\(context))", mark: mark)
        }
        return YAMLError(problem: problem, mark: mark)
    }
}

/// Turns the event stream into nodes with a stack of open collections.
private struct Builder {
    /// A collection being read: a sequence's items, or a mapping's keys and values alternating.
    struct Open {
        var isMapping: Bool
        var anchor: String?
        var style: Node.Sequence.Style
        var mark: Mark
        var items: [Node] = []
    }

    var documents: [Node] = []
    var stack: [Open] = []
    var anchors: [String: (node: Node, size: Int)] = [:]
    var sizes: [Int] = []        // nodes composed inside each open collection
    var count = 0

    static func string(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        p.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
    }

    static func mark(_ m: yaml_mark_t) -> Mark { Mark(line: Int(m.line) + 1, column: Int(m.column) + 1) }

    mutating func handle(_ event: yaml_event_t) throws(YAMLError) {
        let mark = Self.mark(event.start_mark)
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            anchors = [:]
            count = 0
        case YAML_SCALAR_EVENT:
            let s = event.data.scalar
            let text = s.value.map { String(decoding: UnsafeBufferPointer(start: $0, count: s.length), as: UTF8.self) } ?? ""
            let style: Node.Scalar.Style = switch s.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE: .literal
            case YAML_FOLDED_SCALAR_STYLE: .folded
            default: .plain
            }
            let tag = Self.string(s.tag).map(Self.resolveTag)
            try add(.scalar(Node.Scalar(text, style: style, tag: tag, mark: mark)), size: 1, anchor: Self.string(s.anchor), at: mark)
        case YAML_ALIAS_EVENT:
            let name = Self.string(event.data.alias.anchor) ?? ""
            guard let anchored = anchors[name] else {
                throw YAMLError(problem: "alias *\(name) refers to no anchor defined before it", mark: mark)
            }
            try add(anchored.node, size: anchored.size, anchor: nil, at: mark)
        case YAML_SEQUENCE_START_EVENT:
            try open(Open(isMapping: false, anchor: Self.string(event.data.sequence_start.anchor),
                          style: event.data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE ? .flow : .block, mark: mark), at: mark)
        case YAML_MAPPING_START_EVENT:
            try open(Open(isMapping: true, anchor: Self.string(event.data.mapping_start.anchor), style: .block, mark: mark), at: mark)
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let top = stack.popLast(), let size = sizes.popLast() else { return }
            let items = top.items, m = top.mark
            if !top.isMapping {
                try add(.sequence(Node.Sequence(items, style: top.style, mark: m)), size: size + 1, anchor: top.anchor, at: m, counted: true)
            } else {
                var pairs: [(key: Node, value: Node)] = []
                var seen: [String: Mark] = [:]
                var i = 0
                while i + 1 < items.count {
                    let key = items[i], value = items[i + 1]
                    if case let .scalar(k) = key {
                        if let first = seen[k.string] {
                            throw YAMLError(problem: "duplicate key \"\(k.string)\" (first at \(first)); keep one of them", mark: k.mark)
                        }
                        seen[k.string] = k.mark
                    }
                    pairs.append((key, value))
                    i += 2
                }
                try add(.mapping(Node.Mapping(pairs, mark: m)), size: size + 1, anchor: top.anchor, at: m, counted: true)
            }
        default:
            break   // stream start, document end: nothing to build
        }
    }

    mutating func open(_ collection: Open, at mark: Mark) throws(YAMLError) {
        if stack.count >= YAMLComposer.maxDepth {
            throw YAMLError(problem: "nests deeper than \(YAMLComposer.maxDepth) levels", mark: mark)
        }
        stack.append(collection)
        sizes.append(0)
    }

    /// Adds a finished node to the innermost open collection (or as a document), counting nodes.
    mutating func add(_ node: Node, size: Int, anchor: String?, at mark: Mark, counted: Bool = false) throws(YAMLError) {
        // A collection's own nodes were counted as they were added; an alias adds its whole subtree.
        count += counted ? 1 : size
        if count > YAMLComposer.maxNodes {
            throw YAMLError(problem: "expands to more than \(YAMLComposer.maxNodes) nodes (aliases repeated too often?)", mark: mark)
        }
        if let anchor { anchors[anchor] = (node, size) }
        if sizes.isEmpty {
            documents.append(node)
            return
        }
        sizes[sizes.count - 1] += size
        stack[stack.count - 1].items.append(node)
    }

    /// `!!str` arrives as `tag:yaml.org,2002:str` already; keep other tags as written.
    static func resolveTag(_ tag: String) -> String { tag }
}
