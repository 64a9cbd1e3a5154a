/// A label selector (`app=web,tier!=db,env in (a,b),!legacy,owner`).
@MemberwiseInit
public struct LabelSelector: Sendable, Equatable {
    enum Requirement: Sendable, Equatable {
        case equals(String, String)
        case notEquals(String, String)
        case `in`(String, Set<String>)
        case notIn(String, Set<String>)
        case exists(String)
        case notExists(String)
    }

    let requirements: [Requirement]

    /// Matches everything.
    public static let everything = LabelSelector(requirements: [])

    /// Parses the query-string form; throws a message for 400 responses.
    public init(parsing text: String) throws(SelectorError) {
        var result: [Requirement] = []
        for part in Self.splitTopLevel(text) {
            let p = part.trimmingCharacters(in: .whitespaces)
            if p.isEmpty { continue }
            if let r = p.range(of: " notin ") ?? p.range(of: " notin(") {
                let key = String(p[..<r.lowerBound]).trimmingCharacters(in: .whitespaces)
                result.append(.notIn(key, try Self.values(String(p[r.lowerBound...].dropFirst(" notin".count)))))
            } else if let r = p.range(of: " in ") ?? p.range(of: " in(") {
                let key = String(p[..<r.lowerBound]).trimmingCharacters(in: .whitespaces)
                result.append(.in(key, try Self.values(String(p[r.lowerBound...].dropFirst(" in".count)))))
            } else if let r = p.range(of: "!=") {
                result.append(.notEquals(Self.trim(p[..<r.lowerBound]), Self.trim(p[r.upperBound...])))
            } else if let r = p.range(of: "==") {
                result.append(.equals(Self.trim(p[..<r.lowerBound]), Self.trim(p[r.upperBound...])))
            } else if let r = p.range(of: "=") {
                result.append(.equals(Self.trim(p[..<r.lowerBound]), Self.trim(p[r.upperBound...])))
            } else if p.hasPrefix("!") {
                result.append(.notExists(Self.trim(p.dropFirst())))
            } else {
                guard !p.contains(" ") else { throw SelectorError("unable to parse requirement: \(p)") }
                result.append(.exists(p))
            }
        }
        requirements = result
    }

    /// A selector from a `matchLabels` map.
    public init(matchLabels: [String: String]) {
        requirements = matchLabels.keys.sorted().map { .equals($0, matchLabels[$0]!) }
    }

    /// Whether `labels` satisfy every requirement.
    public func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { r in
            switch r {
            case .equals(let k, let v): return labels[k] == v
            case .notEquals(let k, let v): return labels[k] != v
            case .in(let k, let vs): return labels[k].map { vs.contains($0) } ?? false
            case .notIn(let k, let vs): return labels[k].map { !vs.contains($0) } ?? true
            case .exists(let k): return labels[k] != nil
            case .notExists(let k): return labels[k] == nil
            }
        }
    }

    /// Whether it matches everything.
    public var isEmpty: Bool { requirements.isEmpty }

    /// The string form (`app=web`), as Scale's `status.selector` shows it.
    public var description: String {
        requirements.map { r in
            switch r {
            case .equals(let k, let v): return "\(k)=\(v)"
            case .notEquals(let k, let v): return "\(k)!=\(v)"
            case .in(let k, let vs): return "\(k) in (\(vs.sorted().joined(separator: ",")))"
            case .notIn(let k, let vs): return "\(k) notin (\(vs.sorted().joined(separator: ",")))"
            case .exists(let k): return k
            case .notExists(let k): return "!\(k)"
            }
        }.joined(separator: ",")
    }

    /// Renders a Kubernetes `LabelSelector` object (matchLabels + matchExpressions) as a string.
    public static func render(_ selector: JSONValue?) -> String {
        guard let selector else { return "" }
        var parts: [String] = []
        let labels = selector["matchLabels"]?.stringMap ?? [:]
        for k in labels.keys.sorted() { parts.append("\(k)=\(labels[k]!)") }
        for e in selector["matchExpressions"]?.arrayValue ?? [] {
            let key = e["key"]?.stringValue ?? ""
            let values = (e["values"]?.arrayValue ?? []).compactMap(\.stringValue).sorted().joined(separator: ",")
            switch e["operator"]?.stringValue ?? "" {
            case "In": parts.append("\(key) in (\(values))")
            case "NotIn": parts.append("\(key) notin (\(values))")
            case "Exists": parts.append(key)
            case "DoesNotExist": parts.append("!\(key)")
            default: break
            }
        }
        return parts.joined(separator: ",")
    }

    private static func trim(_ s: Substring) -> String { s.trimmingCharacters(in: .whitespaces) }

    private static func values(_ text: String) throws(SelectorError) -> Set<String> {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard t.hasPrefix("("), t.hasSuffix(")") else { throw SelectorError("unable to parse requirement: expected parenthesised values in \(text)") }
        return Set(t.dropFirst().dropLast().split(separator: ",").map { trim($0) })
    }

    /// Splits on commas that are not inside parentheses.
    static func splitTopLevel(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var depth = 0
        for ch in text {
            if ch == "(" { depth += 1 }
            if ch == ")" { depth -= 1 }
            if ch == ",", depth == 0 {
                parts.append(current)
                current = ""
            } else {
                current.append(ch)
            }
        }
        parts.append(current)
        return parts
    }
}

/// A field selector (`metadata.name=web,involvedObject.kind!=Pod`).
@MemberwiseInit
public struct FieldSelector: Sendable, Equatable {
    struct Requirement: Sendable, Equatable {
        let field: String
        let value: String
        let equal: Bool
    }

    let requirements: [Requirement]

    /// Parses the query-string form.
    public init(parsing text: String) throws(SelectorError) {
        var result: [Requirement] = []
        for part in text.split(separator: ",") {
            let p = String(part)
            if let r = p.range(of: "!=") {
                result.append(Requirement(field: String(p[..<r.lowerBound]), value: String(p[r.upperBound...]), equal: false))
            } else if let r = p.range(of: "==") {
                result.append(Requirement(field: String(p[..<r.lowerBound]), value: String(p[r.upperBound...]), equal: true))
            } else if let r = p.range(of: "=") {
                result.append(Requirement(field: String(p[..<r.lowerBound]), value: String(p[r.upperBound...]), equal: true))
            } else {
                throw SelectorError("invalid selector: '\(text)'; can't understand '\(p)'")
            }
        }
        requirements = result
    }

    /// Matches everything.
    public static let everything = FieldSelector(requirements: [])

    /// The fields named.
    public var fields: [String] { requirements.map(\.field) }

    /// The `metadata.name` this selector pins, if any.
    public var pinnedName: String? { requirements.first { $0.field == "metadata.name" && $0.equal }?.value }

    /// Whether `fields` (field label → value) satisfy every requirement (a missing field reads as "").
    public func matches(_ fields: [String: String]) -> Bool {
        requirements.allSatisfy { r in ((fields[r.field] ?? "") == r.value) == r.equal }
    }
}

/// A malformed selector (400).
public struct SelectorError: Error, Sendable, CustomStringConvertible {
    /// What is malformed.
    public let description: String
    init(_ description: String) { self.description = description }
}

import BatchCore
import Foundation
import MemberwiseInit
