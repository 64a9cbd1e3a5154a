import BatchCore
import YAML
import Foundation

/// A JSON document: how KubeSim stores every object, so custom resources and built-ins share one store.
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

/// Parsing and compact serialisation.
extension JSONValue {
    /// Parses JSON text; throws `JSONError.invalid` with the parser's reason.
    public static func parse(_ bytes: some Collection<UInt8>) throws -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw JSONError.invalid(Self.describe(error))
        }
    }

    /// Parses JSON text from a string.
    public static func parse(_ text: String) throws -> JSONValue { try parse(Array(text.utf8)) }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .dataCorrupted(let c): return c.underlyingError.map { "\($0)" } ?? c.debugDescription
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c): return c.debugDescription
        @unknown default: return "\(error)"
        }
    }

    /// Compact JSON (no spaces), object keys sorted, as Go's encoder writes it (`<`, `>`, `&` escaped).
    public var compactString: String {
        var out = ""
        out.reserveCapacity(256)
        write(into: &out)
        return out
    }

    /// Compact JSON as bytes.
    public var compactBytes: [UInt8] { Array(compactString.utf8) }

    private func write(into out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if d.isFinite, d.rounded() == d, abs(d) < 1e15 { out += String(Int64(d)) } else if d.isFinite { out += "\(d)" } else { out += "null" }
        case .string(let s): Self.writeString(s, into: &out)
        case .array(let a):
            out += "["
            for (i, v) in a.enumerated() {
                if i > 0 { out += "," }
                v.write(into: &out)
            }
            out += "]"
        case .object(let o):
            out += "{"
            for (i, k) in o.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                Self.writeString(k, into: &out)
                out += ":"
                o[k]!.write(into: &out)
            }
            out += "}"
        }
    }

    /// Go's encoding/json escaping (`JSONString` with `escapingHTML`), as kube-apiserver writes strings.
    private static func writeString(_ s: String, into out: inout String) {
        JSONString.write(s, escapingHTML: true, into: &out)
    }
}

/// JSON failures.
public enum JSONError: Error, CustomStringConvertible, Equatable {
    case invalid(String)
    public var description: String {
        switch self {
        case .invalid(let why): return "invalid JSON: \(why)"
        }
    }
}

extension JSONValue {
    /// A YAML node with YAML 1.2's core schema, as the API server reads YAML bodies (mapping keys as strings).
    static func fromYAML(_ node: Node) -> JSONValue {
        switch node {
        case let .scalar(s):
            switch s.value {
            case .null: return .null
            case let .bool(b): return .bool(b)
            case let .int(i): return .int(Int64(i))
            case let .double(d): return .double(d)
            case let .string(t): return .string(t)
            }
        case let .sequence(items): return .array(items.map(fromYAML))
        case let .mapping(m):
            var members: [String: JSONValue] = [:]
            for (k, v) in m {
                let key: String = if case let .scalar(s) = k { s.string } else { "\(fromYAML(k))" }
                members[key] = fromYAML(v)
            }
            return .object(members)
        }
    }

    /// Every document of a YAML (or JSON) stream.
    static func parseYAMLDocuments(_ text: String) throws -> [JSONValue] {
        try YAMLComposer.composeAll(text).map(fromYAML)
    }

    /// The one document of a YAML (or JSON) text; null when it is empty.
    static func parseYAML(_ text: String) throws -> JSONValue {
        try YAMLComposer.compose(text).map(fromYAML) ?? .null
    }
}
