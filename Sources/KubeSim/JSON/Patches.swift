import BatchCore
import Foundation

/// Patch application: RFC 7386 merge patch, RFC 6902 JSON patch, and Kubernetes strategic merge patch.
public enum Patches {
    /// RFC 7386: objects merge recursively, `null` deletes, everything else (lists included) replaces.
    public static func mergePatch(_ target: JSONValue, _ patch: JSONValue) -> JSONValue {
        guard case .object(let patchMembers) = patch else { return patch }
        var result = target.objectValue ?? [:]
        for (key, value) in patchMembers {
            if value.isNull {
                result.removeValue(forKey: key)
            } else {
                result[key] = mergePatch(result[key] ?? .null, value)
            }
        }
        return .object(result)
    }

    /// Errors from applying a patch; `testFailed` maps to 422, the rest to 422 as well in the real server
    /// except malformed documents (400).
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case malformed(String)
        case testFailed(String)
        case pathNotFound(String)
        case tooManyOperations(Int)

        public var description: String {
            switch self {
            case .malformed(let m): return m
            case .testFailed(let m): return m
            case .pathNotFound(let m): return m
            case .tooManyOperations(let n): return "The allowed maximum operations in a JSON patch is 10000, got \(n)"
            }
        }
    }

    /// RFC 6902 JSON patch (`add`, `remove`, `replace`, `move`, `copy`, `test`).
    public static func jsonPatch(_ target: JSONValue, _ patch: JSONValue) throws(Failure) -> JSONValue {
        guard let operations = patch.arrayValue else { throw .malformed("json patch must be an array of operations") }
        if operations.count > 10_000 { throw .tooManyOperations(operations.count) }
        var document = target
        for operation in operations {
            guard let op = operation["op"]?.stringValue, let path = operation["path"]?.stringValue else {
                throw .malformed("unexpected kind of operation: missing op or path")
            }
            let pointer = try parsePointer(path)
            switch op {
            case "add":
                guard let value = operation["value"] else { throw .malformed("missing value for add") }
                document = try add(document, pointer, value)
            case "remove":
                document = try remove(document, pointer)
            case "replace":
                guard let value = operation["value"] else { throw .malformed("missing value for replace") }
                _ = try get(document, pointer)
                document = try remove(document, pointer)
                document = try add(document, pointer, value)
            case "move", "copy":
                guard let from = operation["from"]?.stringValue else { throw .malformed("missing from for \(op)") }
                let fromPointer = try parsePointer(from)
                let value = try get(document, fromPointer)
                if op == "move" { document = try remove(document, fromPointer) }
                document = try add(document, pointer, value)
            case "test":
                let actual = try get(document, pointer)
                guard actual == (operation["value"] ?? .null) else {
                    throw .testFailed("testing value \(path) failed: test failed")
                }
            default:
                throw .malformed("Unexpected kind: \(op)")
            }
        }
        return document
    }

    static func parsePointer(_ path: String) throws(Failure) -> [String] {
        if path.isEmpty { return [] }
        guard path.hasPrefix("/") else { throw .malformed("JSON pointer must start with /: \(path)") }
        return path.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    static func get(_ doc: JSONValue, _ pointer: [String]) throws(Failure) -> JSONValue {
        var current = doc
        for token in pointer {
            switch current {
            case .object(let o):
                guard let next = o[token] else { throw .pathNotFound("doc is missing path: /\(pointer.joined(separator: "/"))") }
                current = next
            case .array(let a):
                guard let i = Int(token), i >= 0, i < a.count else { throw .pathNotFound("doc is missing path: /\(pointer.joined(separator: "/"))") }
                current = a[i]
            default:
                throw .pathNotFound("doc is missing path: /\(pointer.joined(separator: "/"))")
            }
        }
        return current
    }

    static func add(_ doc: JSONValue, _ pointer: [String], _ value: JSONValue) throws(Failure) -> JSONValue {
        guard let token = pointer.first else { return value }
        let rest = Array(pointer.dropFirst())
        switch doc {
        case .object(var o):
            if rest.isEmpty {
                o[token] = value
            } else {
                guard let child = o[token] else { throw .pathNotFound("doc is missing path: /\(pointer.joined(separator: "/"))") }
                o[token] = try add(child, rest, value)
            }
            return .object(o)
        case .array(var a):
            if rest.isEmpty {
                if token == "-" { a.append(value); return .array(a) }
                guard let i = Int(token), i >= 0, i <= a.count else { throw .pathNotFound("add operation index out of bounds: \(token)") }
                a.insert(value, at: i)
            } else {
                guard let i = Int(token), i >= 0, i < a.count else { throw .pathNotFound("doc is missing path: \(token)") }
                a[i] = try add(a[i], rest, value)
            }
            return .array(a)
        default:
            throw .pathNotFound("doc is missing path: /\(pointer.joined(separator: "/"))")
        }
    }

    static func remove(_ doc: JSONValue, _ pointer: [String]) throws(Failure) -> JSONValue {
        guard let token = pointer.first else { return .null }
        let rest = Array(pointer.dropFirst())
        switch doc {
        case .object(var o):
            guard let child = o[token] else { throw .pathNotFound("Unable to remove nonexistent key: \(token): missing value") }
            if rest.isEmpty { o.removeValue(forKey: token) } else { o[token] = try remove(child, rest) }
            return .object(o)
        case .array(var a):
            guard let i = Int(token), i >= 0, i < a.count else { throw .pathNotFound("Unable to remove index \(token)") }
            if rest.isEmpty { a.remove(at: i) } else { a[i] = try remove(a[i], rest) }
            return .array(a)
        default:
            throw .pathNotFound("doc is missing path: /\(pointer.joined(separator: "/"))")
        }
    }

    /// The `patchMergeKey` of well-known list fields of built-in types (from the Go struct tags).
    static let strategicMergeKeys: [String: String] = [
        "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
        "env": "name", "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
        "ports": "containerPort", "imagePullSecrets": "name", "conditions": "type",
        "hostAliases": "ip", "topologySpreadConstraints": "topologyKey", "ownerReferences": "uid",
        "containerStatuses": "name", "initContainerStatuses": "name",
    ]

    /// Strategic merge patch for built-in types: like a merge patch, but lists with a known merge key
    /// merge element-wise by that key (`$patch: delete` removes an element; `$patch: replace` replaces).
    public static func strategicMergePatch(_ target: JSONValue, _ patch: JSONValue) -> JSONValue {
        guard case .object(var patchMembers) = patch else { return patch }
        if patchMembers["$patch"]?.stringValue == "replace" {
            patchMembers.removeValue(forKey: "$patch")
            return .object(patchMembers)
        }
        patchMembers.removeValue(forKey: "$patch")
        var result = target.objectValue ?? [:]
        for (key, value) in patchMembers {
            if key.hasPrefix("$setElementOrder/") || key.hasPrefix("$retainKeys") || key.hasPrefix("$deleteFromPrimitiveList/") { continue }
            if value.isNull {
                result.removeValue(forKey: key)
            } else if let mergeKey = strategicMergeKeys[key], case .array(let patchItems) = value,
                      case .array(let currentItems)? = result[key] {
                result[key] = .array(mergeList(currentItems, patchItems, key: mergeKey))
            } else if case .object = value {
                result[key] = strategicMergePatch(result[key] ?? .null, value)
            } else {
                result[key] = value
            }
        }
        return .object(result)
    }

    private static func mergeList(_ current: [JSONValue], _ patch: [JSONValue], key: String) -> [JSONValue] {
        var items = current
        for element in patch {
            guard let id = element[key] else { items.append(element); continue }
            let index = items.firstIndex { $0[key] == id }
            if element["$patch"]?.stringValue == "delete" {
                if let index { items.remove(at: index) }
            } else if let index {
                items[index] = strategicMergePatch(items[index], element)
            } else {
                var clean = element
                clean["$patch"] = nil
                items.append(clean)
            }
        }
        return items
    }
}
