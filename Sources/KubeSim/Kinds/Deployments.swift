import BatchCore
import Foundation

/// Deployment defaults, validation and status (reference §1.4).
enum Deployments {
    static func defaulted(_ deployment: JSONValue) throws -> JSONValue {
        var d = deployment
        if d["spec"]?["replicas"] == nil { d[path: ["spec", "replicas"]] = 1 }
        if d["spec"]?["revisionHistoryLimit"] == nil { d[path: ["spec", "revisionHistoryLimit"]] = 10 }
        if d["spec"]?["progressDeadlineSeconds"] == nil { d[path: ["spec", "progressDeadlineSeconds"]] = 600 }
        if d["spec"]?["strategy"] == nil {
            d[path: ["spec", "strategy"]] = ["type": "RollingUpdate", "rollingUpdate": ["maxUnavailable": "25%", "maxSurge": "25%"]]
        }
        if d["spec"]?["template"]?["spec"] != nil {
            if d[path: ["spec", "template", "spec", "restartPolicy"]] == nil { d[path: ["spec", "template", "spec", "restartPolicy"]] = "Always" }
            if d[path: ["spec", "template", "spec", "terminationGracePeriodSeconds"]] == nil {
                d[path: ["spec", "template", "spec", "terminationGracePeriodSeconds"]] = 30
            }
        }
        return d
    }

    static func validate(_ d: JSONValue) throws {
        let name = d["metadata"]?["name"]?.stringValue ?? ""
        var causes: [APIError.Cause] = []
        if let r = d["spec"]?["replicas"]?.intValue, r < 0 {
            causes.append(.init(reason: "FieldValueInvalid", field: "spec.replicas", message: "Invalid value: \(r): must be greater than or equal to 0"))
        }
        let selector = d["spec"]?["selector"]
        if selector == nil || selector == .emptyObject {
            causes.append(.init(reason: "FieldValueRequired", field: "spec.selector", message: "Required value"))
        } else {
            let labels = d["spec"]?["template"]?["metadata"]?["labels"]?.stringMap ?? [:]
            let wanted = selector?["matchLabels"]?.stringMap ?? [:]
            if !LabelSelector(matchLabels: wanted).matches(labels) {
                causes.append(.init(reason: "FieldValueInvalid", field: "spec.template.metadata.labels",
                                    message: "Invalid value: \(JSONValue.from(labels).compactString): `selector` does not match template `labels`"))
            }
        }
        if !causes.isEmpty { throw APIError.invalid(kind: "Deployment", group: "apps", name: name, causes: causes) }
    }

    /// The status a controller publishes when `ready` pods of `spec.replicas` are up.
    static func status(for d: JSONValue, total: Int64, ready: Int64) -> JSONValue {
        let want = d["spec"]?["replicas"]?.intValue ?? 1
        let generation = d["metadata"]?["generation"]?.intValue ?? 1
        var status: JSONValue = ["observedGeneration": .int(generation)]
        if total > 0 { status["replicas"] = .int(total) }
        if total > 0 { status["updatedReplicas"] = .int(total) }
        if ready > 0 {
            status["readyReplicas"] = .int(ready)
            status["availableReplicas"] = .int(ready)
        }
        if total - ready > 0 { status["unavailableReplicas"] = .int(total - ready) }
        let now = Timestamps.rfc3339()
        let old = d["status"]?["conditions"]?.arrayValue ?? []
        func condition(_ type: String, _ value: String, _ reason: String, _ message: String) -> JSONValue {
            let previous = old.first { $0["type"]?.stringValue == type }
            let transition = previous?["status"]?.stringValue == value ? (previous?["lastTransitionTime"] ?? .string(now)) : .string(now)
            let update = previous?["status"]?.stringValue == value && previous?["reason"]?.stringValue == reason ? (previous?["lastUpdateTime"] ?? .string(now)) : .string(now)
            return ["type": .string(type), "status": .string(value), "reason": .string(reason), "message": .string(message),
                    "lastUpdateTime": update, "lastTransitionTime": transition]
        }
        let name = d["metadata"]?["name"]?.stringValue ?? ""
        let available = ready >= want
        status["conditions"] = [
            condition("Available", available ? "True" : "False", available ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
                      available ? "Deployment has minimum availability." : "Deployment does not have minimum availability."),
            condition("Progressing", "True", ready >= want && total == want ? "NewReplicaSetAvailable" : "ReplicaSetUpdated",
                      ready >= want && total == want ? "ReplicaSet \"\(name)-\(PodNames.templateHash(d))\" has successfully progressed." : "ReplicaSet \"\(name)-\(PodNames.templateHash(d))\" is progressing."),
        ]
        return status
    }

    /// Whether the kubelet runs this Deployment's pods (it names a local command).
    static func command(of d: JSONValue) -> String? {
        let key = "kubesim.batchctl.dev/command"
        if let c = d["spec"]?["template"]?["metadata"]?["annotations"]?[key]?.stringValue, !c.isEmpty { return c }
        if let c = d["metadata"]?["annotations"]?[key]?.stringValue, !c.isEmpty { return c }
        return nil
    }
}

/// ReplicaSet-controller style names: `<deployment>-<10-char hash>-<5-char suffix>`.
enum PodNames {
    static let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")

    /// A stable 10-character hash of the pod template.
    static func templateHash(_ d: JSONValue) -> String {
        let text = (d["spec"]?["template"] ?? .null).compactString
        var hash: UInt64 = 14_695_981_039_346_656_037
        for b in text.utf8 { hash = (hash ^ UInt64(b)) &* 1_099_511_628_211 }
        var out = ""
        for _ in 0..<10 {
            out.append(alphabet[Int(hash % UInt64(alphabet.count))])
            hash /= UInt64(alphabet.count)
            if hash == 0 { hash = 0x9E37_79B9_7F4A_7C15 }
        }
        return out
    }
}
