import BatchCore
import YAML
import Foundation

/// Parsing (Foundation's decoder; BatchCore has no Foundation).
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
