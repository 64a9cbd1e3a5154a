import BatchCore
/// CustomResourceDefinitions: creating one serves its resource (reference §4).
enum CRDs {
    /// Checks the names and marks the CRD `NamesAccepted` and `Established`.
    static func validateAndEstablish(_ crd: JSONValue) throws -> JSONValue {
        var o = crd
        let name = o["metadata"]?["name"]?.stringValue ?? ""
        let group = o["spec"]?["group"]?.stringValue ?? ""
        let plural = o["spec"]?["names"]?["plural"]?.stringValue ?? ""
        var causes: [APIError.Cause] = []
        if name != "\(plural).\(group)" {
            causes.append(.init(reason: "FieldValueInvalid", field: "metadata.name", message: "Invalid value: \"\(name)\": must be spec.names.plural+\".\"+spec.group"))
        }
        if (o["spec"]?["names"]?["kind"]?.stringValue ?? "").isEmpty {
            causes.append(.init(reason: "FieldValueRequired", field: "spec.names.kind", message: "Required value"))
        }
        if (o["spec"]?["versions"]?.arrayValue ?? []).isEmpty {
            causes.append(.init(reason: "FieldValueInvalid", field: "spec.versions", message: "Invalid value: null: must have exactly one version marked as storage version"))
        }
        if !["Namespaced", "Cluster"].contains(o["spec"]?["scope"]?.stringValue ?? "") {
            causes.append(.init(reason: "FieldValueNotSupported", field: "spec.scope", message: "Unsupported value: \"\(o["spec"]?["scope"]?.stringValue ?? "")\": supported values: \"Cluster\", \"Namespaced\""))
        }
        if !causes.isEmpty { throw APIError.invalid(kind: "CustomResourceDefinition", group: "apiextensions.k8s.io", name: name, causes: causes) }
        var names = o["spec"]?["names"] ?? .emptyObject
        if names["singular"] == nil { names["singular"] = .string((names["kind"]?.stringValue ?? "").lowercased()) }
        if names["listKind"] == nil { names["listKind"] = .string((names["kind"]?.stringValue ?? "") + "List") }
        let now = Timestamps.rfc3339()
        o["status"] = [
            "acceptedNames": names,
            "conditions": [
                ["type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": .string(now)],
                ["type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": .string(now)],
            ],
            "storedVersions": .array((o["spec"]?["versions"]?.arrayValue ?? []).filter { $0["storage"]?.boolValue == true }.compactMap { $0["name"] }),
        ]
        return o
    }

    /// The resource types a CRD serves (one per served version).
    static func types(of crd: JSONValue) -> [ResourceType] {
        let spec = crd["spec"] ?? .emptyObject
        let group = spec["group"]?.stringValue ?? ""
        let names = spec["names"] ?? .emptyObject
        let plural = names["plural"]?.stringValue ?? ""
        let kind = names["kind"]?.stringValue ?? ""
        var result: [ResourceType] = []
        for v in spec["versions"]?.arrayValue ?? [] where v["served"]?.boolValue ?? true {
            var t = ResourceType(group: group, version: v["name"]?.stringValue ?? "v1", plural: plural,
                                 singular: names["singular"]?.stringValue ?? kind.lowercased(), kind: kind,
                                 namespaced: spec["scope"]?.stringValue != "Cluster",
                                 shortNames: (names["shortNames"]?.arrayValue ?? []).compactMap(\.stringValue),
                                 categories: (names["categories"]?.arrayValue ?? []).compactMap(\.stringValue),
                                 storageKey: "\(plural).\(group)")
            t.isCustom = true
            t.verbs = ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"]
            t.statusSubresource = v["subresources"]?["status"] != nil
            t.schema = v["schema"]?["openAPIV3Schema"] ?? spec["validation"]?["openAPIV3Schema"]
            if let scale = v["subresources"]?["scale"] {
                t.scale = ScalePaths(specReplicasPath: scale["specReplicasPath"]?.stringValue ?? ".spec.replicas",
                                     statusReplicasPath: scale["statusReplicasPath"]?.stringValue ?? ".status.replicas",
                                     labelSelectorPath: scale["labelSelectorPath"]?.stringValue)
            }
            let columns = v["additionalPrinterColumns"]?.arrayValue ?? []
            if columns.isEmpty {
                t.printerColumns = [PrinterColumn(name: "Age", type: "date", format: "", description: "", priority: 0, jsonPath: ".metadata.creationTimestamp")]
            } else {
                t.printerColumns = columns.map { c in
                    PrinterColumn(name: c["name"]?.stringValue ?? "", type: c["type"]?.stringValue ?? "string",
                                  format: c["format"]?.stringValue ?? "", description: c["description"]?.stringValue ?? "",
                                  priority: Int(c["priority"]?.intValue ?? 0), jsonPath: c["jsonPath"]?.stringValue ?? "")
                }
            }
            result.append(t)
        }
        return result
    }

    static func register(_ crd: JSONValue, in registry: Registry) {
        registry.register(crdName: crd["metadata"]?["name"]?.stringValue ?? "", types: types(of: crd))
    }
}
