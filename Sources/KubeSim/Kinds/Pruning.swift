import BatchCore
/// Structural pruning of custom resources against their `openAPIV3Schema` (reference §4.1): unknown fields are
/// dropped (with a `Warning` header), or rejected with 400 under `fieldValidation=Strict`.
enum Pruning {
    /// Per-request field validation mode and the warnings collected while writing.
    final class FieldValidation {
        let strict: Bool
        var warnings: [String] = []
        /// Set when a server-side apply created the object (the answer is then 201).
        var created = false
        /// The field manager of this write.
        var writer: ManagedFields.Writer
        /// Who writes (admission policies see it; nil for KubeSim's own writes).
        let user: UserInfo?
        init(_ request: APIRequest) {
            user = request.user
            strict = request.query["fieldValidation"] == "Strict"
            writer = ManagedFields.Writer(request)
        }
    }

    /// Prunes `object`; returns the pruned object and the unknown field paths (`.spec.foo`).
    static func prune(_ object: JSONValue, schema: JSONValue?) -> (JSONValue, [String]) {
        guard let schema, case .object(var members) = object else { return (object, []) }
        var unknown: [String] = []
        let kept = ["apiVersion", "kind", "metadata"]
        var rootSchema = schema
        if rootSchema["properties"] == nil, rootSchema["x-kubernetes-preserve-unknown-fields"] == nil {
            rootSchema["x-kubernetes-preserve-unknown-fields"] = true
        }
        let saved = kept.map { members[$0] }
        for k in kept { members[k] = nil }
        var pruned = prune(.object(members), schema: rootSchema, path: "", unknown: &unknown)
        for (k, v) in zip(kept, saved) where v != nil { pruned[k] = v }
        return (pruned, unknown)
    }

    private static func prune(_ value: JSONValue, schema: JSONValue, path: String, unknown: inout [String]) -> JSONValue {
        let preserve = schema["x-kubernetes-preserve-unknown-fields"]?.boolValue == true
        switch value {
        case .object(let members):
            let properties = schema["properties"]?.objectValue
            let additional = schema["additionalProperties"]
            var result: [String: JSONValue] = [:]
            for (key, child) in members {
                let childPath = "\(path).\(key)"
                if let propertySchema = properties?[key] {
                    result[key] = prune(child, schema: propertySchema, path: childPath, unknown: &unknown)
                } else if let additional, case .object = additional {
                    result[key] = prune(child, schema: additional, path: childPath, unknown: &unknown)
                } else if preserve || additional?.boolValue == true || (properties == nil && schema["type"]?.stringValue != "object") {
                    result[key] = child
                } else if properties == nil && additional == nil && !preserve {
                    unknown.append(childPath)
                } else {
                    unknown.append(childPath)
                }
            }
            return .object(result)
        case .array(let items):
            guard let itemSchema = schema["items"] else { return value }
            return .array(items.enumerated().map { prune($0.element, schema: itemSchema, path: "\(path)[\($0.offset)]", unknown: &unknown) })
        default:
            return value
        }
    }

    /// Applies pruning for a custom resource write, honouring `fieldValidation`.
    static func apply(_ object: JSONValue, type: ResourceType, validation: FieldValidation?) throws -> JSONValue {
        guard type.isCustom else { return object }
        let (pruned, unknown) = prune(object, schema: type.schema)
        guard !unknown.isEmpty else { return pruned }
        if validation?.strict == true {
            throw APIError.badRequest("strict decoding error: " + unknown.map { "unknown field \"\($0.dropFirst())\"" }.joined(separator: ", "))
        }
        validation?.warnings += unknown.map { "unknown field \"\($0.dropFirst())\"" }
        return pruned
    }
}
