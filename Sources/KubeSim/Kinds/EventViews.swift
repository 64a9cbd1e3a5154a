import BatchCore
/// Events are stored once (in the `events.k8s.io/v1` shape) and served in two views (reference §7.2).
enum EventViews {
    /// events.k8s.io/v1 field → core/v1 field.
    static let renames: [(events: String, core: String)] = [
        ("regarding", "involvedObject"), ("note", "message"), ("reportingController", "reportingComponent"),
        ("deprecatedSource", "source"), ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"), ("deprecatedCount", "count"),
    ]

    /// The stored event as `type` (core or events.k8s.io) shows it.
    static func toView(_ stored: JSONValue, type: ResourceType) -> JSONValue { renamed(stored, type: type, toCore: true) }

    /// A request body in `type`'s view converted to the stored shape.
    static func fromView(_ object: JSONValue, type: ResourceType) -> JSONValue { renamed(object, type: type, toCore: false) }

    /// For the core group, `object` with each field of `renames` moved to its core/v1 name (`toCore`) or back
    /// to its events.k8s.io/v1 name; for events.k8s.io, `object` as it is.
    private static func renamed(_ object: JSONValue, type: ResourceType, toCore: Bool) -> JSONValue {
        guard type.group.isEmpty else { return object }
        var o = object
        for (events, core) in renames {
            let (from, to) = toCore ? (events, core) : (core, events)
            o[to] = object[from]
            o[from] = nil
        }
        return o
    }

    /// Validation of events created through events.k8s.io/v1 (k8s `pkg/apis/core/validation/events.go`).
    static func validateCreate(_ e: JSONValue) throws {
        var causes: [APIError.Cause] = []
        func required(_ field: String) {
            if (e[field]?.stringValue ?? "").isEmpty {
                causes.append(.init(reason: "FieldValueRequired", field: field, message: "Required value"))
            }
        }
        required("eventTime")
        required("reportingController")
        required("reportingInstance")
        required("action")
        required("reason")
        if let t = e["type"]?.stringValue, !["Normal", "Warning"].contains(t) {
            causes.append(.init(reason: "FieldValueNotSupported", field: "type", message: "Unsupported value: \"\(t)\": supported values: \"Normal\", \"Warning\""))
        }
        if (e["note"]?.stringValue ?? "").utf8.count > 1024 {
            causes.append(.init(reason: "FieldValueTooLong", field: "note", message: "Too long: may not be more than 1024 bytes"))
        }
        for f in ["deprecatedFirstTimestamp", "deprecatedLastTimestamp", "deprecatedCount", "deprecatedSource"] where e[f] != nil && e[f] != .null {
            causes.append(.init(reason: "FieldValueInvalid", field: f, message: "Invalid value: needs to be unset"))
        }
        if let series = e["series"], series != .null {
            if (series["count"]?.intValue ?? 0) < 2 {
                causes.append(.init(reason: "FieldValueInvalid", field: "series.count", message: "Invalid value: \(series["count"]?.intValue ?? 0): should be at least 2"))
            }
            if series["lastObservedTime"] == nil {
                causes.append(.init(reason: "FieldValueRequired", field: "series.lastObservedTime", message: "Required value"))
            }
        }
        if !causes.isEmpty {
            throw APIError.invalid(kind: "Event", group: "events.k8s.io", name: e["metadata"]?["name"]?.stringValue ?? "", causes: causes)
        }
    }
}

/// Field selector labels per resource (reference §3.1, §7.3).
enum FieldLabels {
    static func supported(_ type: ResourceType) -> Set<String> {
        var s: Set<String> = ["metadata.name", "metadata.namespace"]
        if type.storageKey == "events" {
            if type.group.isEmpty {
                s.formUnion(["involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                             "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
                             "reason", "reportingComponent", "source", "type"])
            } else {
                s.formUnion(["regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid",
                             "regarding.apiVersion", "regarding.resourceVersion", "regarding.fieldPath",
                             "reason", "reportingController", "type"])
            }
        }
        if type.plural == "pods", type.group.isEmpty { s.formUnion(["spec.nodeName", "status.phase", "spec.restartPolicy", "status.podIP"]) }
        if type.plural == "namespaces", type.group.isEmpty { s.insert("status.phase") }
        return s
    }

    /// Field label → value for an object in its view.
    static func values(_ o: JSONValue, type: ResourceType) -> [String: String] {
        var v: [String: String] = [
            "metadata.name": o["metadata"]?["name"]?.stringValue ?? "",
            "metadata.namespace": o["metadata"]?["namespace"]?.stringValue ?? "",
        ]
        if type.storageKey == "events" {
            let ref = type.group.isEmpty ? "involvedObject" : "regarding"
            for f in ["kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"] {
                v["\(ref).\(f)"] = o[ref]?[f]?.stringValue ?? ""
            }
            v["reason"] = o["reason"]?.stringValue ?? ""
            v["type"] = o["type"]?.stringValue ?? ""
            v["reportingComponent"] = o["reportingComponent"]?.stringValue ?? ""
            v["reportingController"] = o["reportingController"]?.stringValue ?? ""
            v["source"] = o["source"]?["component"]?.stringValue ?? ""
        }
        if type.plural == "pods" {
            v["spec.nodeName"] = o["spec"]?["nodeName"]?.stringValue ?? ""
            v["status.phase"] = o["status"]?["phase"]?.stringValue ?? ""
            v["spec.restartPolicy"] = o["spec"]?["restartPolicy"]?.stringValue ?? ""
            v["status.podIP"] = o["status"]?["podIP"]?.stringValue ?? ""
        }
        if type.plural == "namespaces" { v["status.phase"] = o["status"]?["phase"]?.stringValue ?? "" }
        return v
    }
}
