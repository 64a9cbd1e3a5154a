import YAML

/// Any JSON value, with whole and floating numbers kept apart (`int`, `double`): KubeSim stores every object as one,
/// the API client builds merge patches from them, BatchQueue keeps the fields whose shape batchctl does not fix
/// (such as `status.reminders`) in them, and the webhook bodies are written from them.
public enum JSONValue: Sendable, Equatable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// An empty object.
    public static let emptyObject = JSONValue.object([:])

    /// The member `key` of an object (nil for other values or a missing key).
    public subscript(key: String) -> JSONValue? {
        get {
            if case .object(let members) = self { return members[key] }
            return nil
        }
        set {
            guard case .object(var members) = self else {
                if let newValue { self = .object([key: newValue]) }
                return
            }
            members[key] = newValue
            self = .object(members)
        }
    }

    /// The value at a path of object keys, such as `["spec", "replicas"]`.
    public subscript(path path: [String]) -> JSONValue? {
        get {
            var current: JSONValue? = self
            for key in path { current = current?[key] }
            return current
        }
        set {
            guard let first = path.first else {
                if let newValue { self = newValue }
                return
            }
            if path.count == 1 {
                self[first] = newValue
                return
            }
            var child = self[first] ?? .emptyObject
            if case .object = child {} else { child = .emptyObject }
            child[path: Array(path.dropFirst())] = newValue
            self[first] = child
        }
    }

    /// The string, if this is one.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The integer, if this is a whole number.
    public var intValue: Int64? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 9e15: return Int64(d)
        default: return nil
        }
    }

    /// The Boolean, if this is one.
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The members, if this is an object.
    public var objectValue: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// The elements, if this is an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// Whether this is `null`.
    public var isNull: Bool { self == .null }

    /// A string map (labels, annotations), ignoring non-string members.
    public var stringMap: [String: String] {
        var result: [String: String] = [:]
        for (k, v) in objectValue ?? [:] { if let s = v.stringValue { result[k] = s } }
        return result
    }

    /// Builds a JSON object from a string map.
    public static func from(_ map: [String: String]) -> JSONValue {
        .object(map.mapValues { .string($0) })
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let b = try? container.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? container.decode(Int64.self) {
            self = .int(i)
        } else if let d = try? container.decode(Double.self) {
            self = .double(d)
        } else if let s = try? container.decode(String.self) {
            self = .string(s)
        } else if let a = try? container.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let b): try container.encode(b)
        case .int(let i): try container.encode(i)
        case .double(let d): try container.encode(d)
        case .string(let s): try container.encode(s)
        case .array(let a): try container.encode(a)
        case .object(let o): try container.encode(o)
        }
    }
}

/// Compact serialisation.
extension JSONValue {
    /// Compact JSON (no spaces), object keys sorted, as Go's encoder writes it (`<`, `>`, `&` escaped).
    public var compactString: String { compact(escapingHTML: true) }

    /// Compact JSON (no spaces), object keys sorted; `escapingHTML` escapes `<`, `>` and `&` as Go's encoder does.
    public func compact(escapingHTML: Bool) -> String {
        var out = ""
        out.reserveCapacity(256)
        write(into: &out, escapingHTML: escapingHTML)
        return out
    }

    /// Compact JSON as bytes.
    public var compactBytes: [UInt8] { Array(compactString.utf8) }

    private func write(into out: inout String, escapingHTML: Bool) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if d.isFinite, d.rounded() == d, abs(d) < 1e15 { out += String(Int64(d)) } else if d.isFinite { out += "\(d)" } else { out += "null" }
        case .string(let s): JSONString.write(s, escapingHTML: escapingHTML, into: &out)
        case .array(let a):
            out += "["
            for (i, v) in a.enumerated() {
                if i > 0 { out += "," }
                v.write(into: &out, escapingHTML: escapingHTML)
            }
            out += "]"
        case .object(let o):
            out += "{"
            for (i, k) in o.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                JSONString.write(k, escapingHTML: escapingHTML, into: &out)
                out += ":"
                o[k]!.write(into: &out, escapingHTML: escapingHTML)
            }
            out += "}"
        }
    }
}

extension JSONValue {
    /// The value as a YAML node, object keys sorted (as kubectl prints objects): strings that would read
    /// back as something else are quoted, whole numbers print without a fraction.
    public var yamlNode: Node {
        switch self {
        case .null: return .plain("null")
        case let .bool(b): return .plain(b ? "true" : "false")
        case let .int(i): return .plain(String(i))
        case let .double(d):
            if d.rounded() == d, abs(d) < 9_007_199_254_740_992 { return .plain(String(Int64(d))) }
            return .plain("\(d)")
        case let .string(s): return .string(s)
        case let .array(items): return .sequence(items.map(\.yamlNode))
        case let .object(fields): return .mapping(fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value.yamlNode) })
        }
    }
}
