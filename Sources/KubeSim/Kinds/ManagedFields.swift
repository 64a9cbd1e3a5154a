import BatchCore
import Foundation

/// A simplified field-ownership tracker (`metadata.managedFields`, FieldsV1): leaf fields belong to the manager
/// that last changed them (Update) or applied them (Apply); lists are atomic. Server-side apply fails with a
/// 409 listing the conflicting fields when it would change a field another manager owns, unless `force=true`.
enum ManagedFields {
    typealias Path = [String]

    /// Who is writing and how (built per request).
    struct Writer {
        var manager: String
        var isApply: Bool
        var force: Bool
        /// For apply: the leaf paths the applied configuration sets (in the parent object's coordinates).
        var appliedPaths: [Path] = []

        init(_ request: APIRequest) {
            let agent = request.headers["user-agent"] ?? ""
            let fromAgent = agent.split(separator: "/").first.map(String.init) ?? ""
            manager = request.query["fieldManager"].flatMap { $0.isEmpty ? nil : $0 } ?? (fromAgent.isEmpty ? "unknown" : fromAgent)
            isApply = request.contentType == "application/apply-patch+yaml"
            force = request.flag("force")
        }
    }

    /// Leaf paths of an object's user-owned fields (spec and the like, labels and annotations; not status
    /// unless `includeStatus`).
    static func leafPaths(_ object: JSONValue, includeStatus: Bool) -> [Path] {
        var result: [Path] = []
        for (key, value) in object.objectValue ?? [:] {
            switch key {
            case "apiVersion", "kind": continue
            case "status" where !includeStatus: continue
            case "metadata":
                for sub in ["labels", "annotations"] {
                    for (k, _) in value[sub]?.objectValue ?? [:] { result.append(["metadata", sub, k]) }
                }
            default:
                if includeStatus, key != "status" { continue }
                collect(value, [key], into: &result)
            }
        }
        return result
    }

    static func collect(_ value: JSONValue, _ prefix: Path, into result: inout [Path]) {
        if case .object(let members) = value, !members.isEmpty {
            for (k, v) in members { collect(v, prefix + [k], into: &result) }
        } else {
            result.append(prefix)
        }
    }

    static func fieldsV1(_ paths: [Path]) -> JSONValue {
        var root: JSONValue = .emptyObject
        for p in paths { root[path: p.map { "f:" + $0 }] = .emptyObject }
        return root
    }

    static func paths(fromFieldsV1 fields: JSONValue) -> [Path] {
        var result: [Path] = []
        func walk(_ node: JSONValue, _ prefix: Path) {
            let members = node.objectValue ?? [:]
            if members.isEmpty { if !prefix.isEmpty { result.append(prefix) }; return }
            for (k, v) in members where k.hasPrefix("f:") { walk(v, prefix + [String(k.dropFirst(2))]) }
        }
        walk(fields, [])
        return result
    }

    struct Entry {
        var manager: String
        var operation: String
        var apiVersion: String
        var subresource: String
        var time: String
        var paths: Set<Path>

        init(_ json: JSONValue) {
            manager = json["manager"]?.stringValue ?? ""
            operation = json["operation"]?.stringValue ?? "Update"
            apiVersion = json["apiVersion"]?.stringValue ?? ""
            subresource = json["subresource"]?.stringValue ?? ""
            time = json["time"]?.stringValue ?? ""
            paths = Set(ManagedFields.paths(fromFieldsV1: json["fieldsV1"] ?? .emptyObject))
        }

        init(manager: String, operation: String, apiVersion: String, subresource: String, paths: Set<Path>) {
            self.manager = manager
            self.operation = operation
            self.apiVersion = apiVersion
            self.subresource = subresource
            time = Timestamps.rfc3339()
            self.paths = paths
        }

        var json: JSONValue {
            var o: JSONValue = ["manager": .string(manager), "operation": .string(operation), "apiVersion": .string(apiVersion),
                                "time": .string(time), "fieldsType": "FieldsV1",
                                "fieldsV1": ManagedFields.fieldsV1(paths.sorted { $0.joined(separator: ".") < $1.joined(separator: ".") })]
            if !subresource.isEmpty { o["subresource"] = .string(subresource) }
            return o
        }

        var identity: String {
            var s = "\"\(manager)\""
            if !subresource.isEmpty { s += " with subresource \"\(subresource)\"" }
            if operation == "Update" { s += " using \(apiVersion)" }
            return s
        }
    }

    /// Updates `new`'s managedFields for a write by `writer` (or throws the apply conflict).
    static func record(old: JSONValue?, new: inout JSONValue, type: ResourceType, subresource: String, writer: Writer?) throws {
        guard let writer else {
            new[path: ["metadata", "managedFields"]] = old?["metadata"]?["managedFields"]
            return
        }
        var entries = (old?["metadata"]?["managedFields"]?.arrayValue ?? []).map(Entry.init)
        let statusWrite = subresource == "status"
        let before = Set(old.map { leafPaths($0, includeStatus: statusWrite) } ?? [])
        let afterList = leafPaths(new, includeStatus: statusWrite)
        let after = Set(afterList)
        func value(_ o: JSONValue?, _ p: Path) -> JSONValue? { o?[path: p] }
        let changed = after.filter { value(old, $0) != value(new, $0) }
        let removed = before.subtracting(after)
        let operation = writer.isApply ? "Apply" : "Update"
        let owned: Set<Path>
        if writer.isApply {
            owned = Set(writer.appliedPaths).intersection(after)
            var conflicts: [(Entry, Path)] = []
            for e in entries where !(e.manager == writer.manager && e.operation == "Apply") {
                for p in e.paths.intersection(owned) where changed.contains(p) { conflicts.append((e, p)) }
            }
            if !conflicts.isEmpty && !writer.force {
                let lines = conflicts.map { "conflict with \($0.0.identity): .\($0.1.joined(separator: "."))" }
                let message = conflicts.count == 1 ? "Apply failed with 1 conflict: \(lines[0])"
                    : "Apply failed with \(conflicts.count) conflicts: " + lines.joined(separator: "\n")
                let causes: [JSONValue] = conflicts.map { c in
                    ["reason": "FieldManagerConflict", "message": .string("conflict with \(c.0.identity)"),
                     "field": .string("." + c.1.joined(separator: "."))]
                }
                throw APIError(code: 409, reason: "Conflict", message: message, details: ["causes": .array(causes)])
            }
        } else {
            owned = changed
        }
        let taken = writer.isApply ? owned.intersection(changed) : owned
        for i in entries.indices { entries[i].paths.subtract(taken.union(removed)) }
        if let i = entries.firstIndex(where: { $0.manager == writer.manager && $0.operation == operation && $0.subresource == (subresource == "scale" || statusWrite ? subresource : "") }) {
            if writer.isApply || !owned.isEmpty {
                if writer.isApply { entries[i].paths = owned } else { entries[i].paths.formUnion(owned) }
                entries[i].time = Timestamps.rfc3339()
            }
        } else if !owned.isEmpty {
            entries.append(Entry(manager: writer.manager, operation: operation, apiVersion: type.apiVersion,
                                 subresource: subresource == "scale" || statusWrite ? subresource : "", paths: owned))
        }
        entries.removeAll { $0.paths.isEmpty }
        new[path: ["metadata", "managedFields"]] = entries.isEmpty ? nil : .array(entries.map(\.json))
    }
}
