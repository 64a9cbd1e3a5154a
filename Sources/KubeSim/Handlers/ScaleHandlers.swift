import BatchCore
/// The `/scale` subresource: an `autoscaling/v1` Scale view of Deployments and scalable custom resources
/// (reference §1.2).
extension Simulator {
    static func dotted(_ path: String) -> [String] {
        path.split(separator: ".").map(String.init)
    }

    /// The Scale for an object.
    func scale(of object: JSONValue, type: ResourceType) throws -> JSONValue {
        guard let paths = type.scale else { throw APIError.pathNotFound() }
        let meta = object["metadata"] ?? .emptyObject
        var scaleMeta: JSONValue = .emptyObject
        for key in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] { scaleMeta[key] = meta[key] }
        let specReplicas: Int64
        if let r = object[path: Self.dotted(paths.specReplicasPath)]?.intValue {
            specReplicas = r
        } else if type.isCustom {
            throw APIError.internalError("the spec replicas field \"\(paths.specReplicasPath)\" does not exist")
        } else {
            specReplicas = 1
        }
        let statusReplicas = object[path: Self.dotted(paths.statusReplicasPath)]?.intValue ?? 0
        let selector: String
        if let selectorPath = paths.labelSelectorPath {
            selector = object[path: Self.dotted(selectorPath)]?.stringValue ?? ""
        } else {
            selector = LabelSelector.render(object["spec"]?["selector"])
        }
        var spec: JSONValue = .emptyObject
        if specReplicas != 0 { spec["replicas"] = .int(specReplicas) }
        return ["kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": scaleMeta, "spec": spec,
                "status": ["replicas": .int(statusReplicas), "selector": .string(selector)]]
    }

    func getScale(_ type: ResourceType, _ info: RequestInfo) throws -> JSONValue {
        try scale(of: view(try currentObject(type, info), as: type), type: type)
    }

    /// PUT or PATCH of `/scale`: old Scale → request applied → new Scale → validated → replicas (and the
    /// resourceVersion precondition) copied back onto the parent, which gets a new generation.
    func writeScale(_ request: APIRequest, _ type: ResourceType, _ info: RequestInfo) throws -> JSONValue {
        guard let paths = type.scale else { throw APIError.pathNotFound() }
        let patch = request.method == "PATCH" ? try PatchRequest(request, type: type) : nil
        let validation = Pruning.FieldValidation(request)
        if patch?.kind == .apply, patch?.body["spec"]?["replicas"] != nil {
            validation.writer.appliedPaths = [Self.dotted(paths.specReplicasPath)]
        }
        var putBody: JSONValue?
        if patch == nil {
            let body = try parseBody(request)
            if let kind = body["kind"]?.stringValue, !kind.isEmpty, kind != "Scale" {
                throw APIError.badRequest("the API version in the data (\(body["apiVersion"]?.stringValue ?? "")) does not match the expected API version (autoscaling/v1)")
            }
            putBody = body
        }
        let updated = try commitUpdate(type, info, subresource: "scale", validation: validation) { current in
            let oldScale = try self.scale(of: current, type: type)
            var newScale: JSONValue
            if let patch {
                newScale = try patch.apply(to: oldScale, type: type, name: info.name, asKind: "Scale", group: "autoscaling")
            } else {
                newScale = putBody ?? .emptyObject
            }
            let replicas = newScale["spec"]?["replicas"]?.intValue ?? 0
            if newScale["spec"]?["replicas"] != nil, newScale["spec"]?["replicas"]?.intValue == nil {
                throw APIError.badRequest("json: cannot unmarshal into Go struct field ScaleSpec.spec.replicas of type int32")
            }
            if replicas < 0 {
                let message = type.isCustom ? "Invalid value: \(replicas): should be a non-negative integer" : "Invalid value: \(replicas): must be greater than or equal to 0"
                throw APIError.invalid(kind: "Scale", group: "autoscaling", name: info.name,
                                       causes: [.init(reason: "FieldValueInvalid", field: "spec.replicas", message: message)])
            }
            var next = current
            next[path: Self.dotted(paths.specReplicasPath)] = .int(replicas)
            next[path: ["metadata", "resourceVersion"]] = newScale["metadata"]?["resourceVersion"] ?? .string("")
            next[path: ["metadata", "uid"]] = newScale["metadata"]?["uid"] ?? .string("")
            return next
        }
        return try scale(of: updated, type: type)
    }
}
