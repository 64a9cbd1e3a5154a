import BatchCore
import Foundation

/// `meta.k8s.io/v1` Table responses, as `kubectl get` asks for them (reference §9.2).
enum Tables {
    /// Whether the Accept header asks for a Table.
    static func wanted(_ request: APIRequest) -> Bool {
        guard let accept = request.headers["accept"] else { return false }
        return accept.split(separator: ",").contains { part in
            part.contains("as=Table") && part.contains("g=meta.k8s.io")
        }
    }

    struct Column: Sendable {
        let name: String
        let type: String
        let format: String
        let priority: Int
        let cell: @Sendable (JSONValue) -> JSONValue
    }

    static func table(for type: ResourceType, objects: [JSONValue], resourceVersion: Int64, includeObject: String = "Metadata") -> JSONValue {
        let columns = self.columns(for: type)
        let rows: [JSONValue] = objects.map { o in
            var meta = o["metadata"] ?? .emptyObject
            meta["managedFields"] = nil
            var row: JSONValue = ["cells": .array(columns.map { $0.cell(o) })]
            switch includeObject {
            case "None": break
            case "Object": row["object"] = o
            default: row["object"] = ["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta]
            }
            return row
        }
        let definitions: [JSONValue] = columns.map { c in
            ["name": .string(c.name), "type": .string(c.type), "format": .string(c.format), "description": .string(c.name), "priority": .int(Int64(c.priority))]
        }
        return ["kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": ["resourceVersion": .string(String(resourceVersion))],
                "columnDefinitions": .array(definitions), "rows": .array(rows)]
    }

    @Sendable static func age(_ o: JSONValue) -> JSONValue {
        guard let t = o["metadata"]?["creationTimestamp"]?.stringValue, let d = Timestamps.parse(t) else { return "<unknown>" }
        return .string(Timestamps.humanDuration(since: d))
    }

    static let nameColumn = Column(name: "Name", type: "string", format: "name", priority: 0) { $0["metadata"]?["name"] ?? "" }
    static let ageColumn = Column(name: "Age", type: "string", format: "", priority: 0, cell: age)

    static func columns(for type: ResourceType) -> [Column] {
        if type.isCustom {
            return [nameColumn] + type.printerColumns.map { pc in
                Column(name: pc.name, type: pc.type == "date" ? "date" : pc.type, format: pc.format, priority: pc.priority) { o in
                    let value = JSONPathLite.evaluate(pc.jsonPath, in: o)
                    guard let value else { return .null }
                    if pc.type == "date", let s = value.stringValue, let d = Timestamps.parse(s) {
                        return .string(Timestamps.humanDuration(since: d))
                    }
                    if pc.type == "string", case .array(let items) = value {
                        return .string(items.map { $0.stringValue ?? $0.compactString }.joined(separator: ","))
                    }
                    return value
                }
            }
        }
        switch (type.group, type.plural) {
        case ("apps", "deployments"):
            return [
                nameColumn,
                Column(name: "Ready", type: "string", format: "", priority: 0) { o in
                    .string("\(o["status"]?["readyReplicas"]?.intValue ?? 0)/\(o["spec"]?["replicas"]?.intValue ?? 0)")
                },
                Column(name: "Up-to-date", type: "integer", format: "", priority: 0) { .int($0["status"]?["updatedReplicas"]?.intValue ?? 0) },
                Column(name: "Available", type: "integer", format: "", priority: 0) { .int($0["status"]?["availableReplicas"]?.intValue ?? 0) },
                ageColumn,
                Column(name: "Containers", type: "string", format: "", priority: 1) { o in
                    .string(containers(o).compactMap { $0["name"]?.stringValue }.joined(separator: ","))
                },
                Column(name: "Images", type: "string", format: "", priority: 1) { o in
                    .string(containers(o).compactMap { $0["image"]?.stringValue }.joined(separator: ","))
                },
                Column(name: "Selector", type: "string", format: "", priority: 1) { .string(LabelSelector.render($0["spec"]?["selector"])) },
            ]
        case ("", "pods"):
            return [
                nameColumn,
                Column(name: "Ready", type: "string", format: "", priority: 0) { o in
                    let statuses = o["status"]?["containerStatuses"]?.arrayValue ?? []
                    let total = max(statuses.count, o["spec"]?["containers"]?.arrayValue?.count ?? 0)
                    return .string("\(statuses.filter { $0["ready"]?.boolValue == true }.count)/\(total)")
                },
                Column(name: "Status", type: "string", format: "", priority: 0) { o in
                    o["metadata"]?["deletionTimestamp"] != nil ? "Terminating" : (o["status"]?["phase"] ?? "Pending")
                },
                Column(name: "Restarts", type: "string", format: "", priority: 0) { _ in "0" },
                ageColumn,
                Column(name: "IP", type: "string", format: "", priority: 1) { $0["status"]?["podIP"] ?? "<none>" },
                Column(name: "Node", type: "string", format: "", priority: 1) { $0["spec"]?["nodeName"] ?? "<none>" },
            ]
        case ("", "namespaces"):
            return [nameColumn, Column(name: "Status", type: "string", format: "", priority: 0) { $0["status"]?["phase"] ?? "" }, ageColumn]
        case (_, "events"):
            let core = type.group.isEmpty
            return [
                Column(name: "Last Seen", type: "string", format: "", priority: 0) { o in
                    let t = o[core ? "lastTimestamp" : "deprecatedLastTimestamp"]?.stringValue ?? o["series"]?["lastObservedTime"]?.stringValue
                        ?? o["eventTime"]?.stringValue ?? o["metadata"]?["creationTimestamp"]?.stringValue
                    guard let t, let d = Timestamps.parse(t) else { return "<unknown>" }
                    return .string(Timestamps.humanDuration(since: d))
                },
                Column(name: "Type", type: "string", format: "", priority: 0) { $0["type"] ?? "" },
                Column(name: "Reason", type: "string", format: "", priority: 0) { $0["reason"] ?? "" },
                Column(name: "Object", type: "string", format: "", priority: 0) { o in
                    let ref = o[core ? "involvedObject" : "regarding"]
                    return .string("\((ref?["kind"]?.stringValue ?? "").lowercased())/\(ref?["name"]?.stringValue ?? "")")
                },
                Column(name: "Message", type: "string", format: "", priority: 0) { $0[core ? "message" : "note"] ?? "" },
            ]
        default:
            return [nameColumn, ageColumn]
        }
    }

    static func containers(_ o: JSONValue) -> [JSONValue] {
        o["spec"]?["template"]?["spec"]?["containers"]?.arrayValue ?? []
    }
}

/// The JSONPath subset printer columns use: `.a.b`, `.a[0]`, `.a[?(@.k=="v")].b`.
enum JSONPathLite {
    static func evaluate(_ path: String, in root: JSONValue) -> JSONValue? {
        var text = path.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("{") && text.hasSuffix("}") { text = String(text.dropFirst().dropLast()) }
        if text.hasPrefix("$") { text.removeFirst() }
        var current: [JSONValue] = [root]
        var i = text.startIndex
        while i < text.endIndex {
            let ch = text[i]
            if ch == "." {
                i = text.index(after: i)
                let end = text[i...].firstIndex { $0 == "." || $0 == "[" } ?? text.endIndex
                let key = String(text[i..<end])
                current = current.compactMap { $0[key] }
                i = end
            } else if ch == "[" {
                guard let close = text[i...].firstIndex(of: "]") else { return nil }
                let inner = String(text[text.index(after: i)..<close])
                if inner.hasPrefix("?(@.") {
                    // ?(@.key=="value")
                    let body = inner.dropFirst(4).dropLast()
                    let pieces = body.components(separatedBy: "==")
                    guard pieces.count == 2 else { return nil }
                    let key = pieces[0].trimmingCharacters(in: .whitespaces)
                    let value = pieces[1].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
                    current = current.flatMap { $0.arrayValue ?? [] }.filter { $0[key]?.stringValue == value || $0[key]?.compactString == value }
                } else if inner == "*" {
                    current = current.flatMap { $0.arrayValue ?? [] }
                } else if let n = Int(inner) {
                    current = current.compactMap { a in a.arrayValue.flatMap { n < $0.count ? $0[n] : nil } }
                } else {
                    return nil
                }
                i = text.index(after: close)
            } else {
                return nil
            }
        }
        if current.isEmpty { return nil }
        return current.count == 1 ? current[0] : .array(current)
    }
}
