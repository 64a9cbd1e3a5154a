import BatchCore
import Foundation

/// A PATCH body with its media type, validated like apiserver `handlers/patch.go`.
struct PatchRequest {
    enum Kind { case merge, json, strategic, apply }
    let kind: Kind
    let body: JSONValue
    let force: Bool

    static let builtInTypes = ["application/json-patch+json", "application/merge-patch+json",
                               "application/strategic-merge-patch+json", "application/apply-patch+yaml"]
    static let customTypes = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]

    init(_ request: APIRequest, type: ResourceType) throws {
        let contentType = request.contentType
        let accepted = type.isCustom ? Self.customTypes : Self.builtInTypes
        guard accepted.contains(contentType) else {
            throw APIError.unsupportedMediaType(contentType, accepted: accepted)
        }
        switch contentType {
        case "application/json-patch+json": kind = .json
        case "application/merge-patch+json": kind = .merge
        case "application/strategic-merge-patch+json": kind = .strategic
        default: kind = .apply
        }
        force = request.flag("force")
        if request.query["force"] != nil, kind != .apply {
            throw APIError.invalid(kind: "PatchOptions", group: "meta.k8s.io", name: "",
                                   causes: [.init(reason: "FieldValueForbidden", field: "force", message: "Forbidden: may not be specified for non-apply patch")])
        }
        if kind == .apply, (request.query["fieldManager"] ?? "").isEmpty {
            throw APIError.invalid(kind: "PatchOptions", group: "meta.k8s.io", name: "",
                                   causes: [.init(reason: "FieldValueRequired", field: "fieldManager", message: "Required value: is required for apply patch")])
        }
        do {
            body = kind == .apply ? try YAMLBodies.parse(request.body) : try JSONValue.parse(request.body)
        } catch {
            throw APIError.badRequest("error decoding patch: \(error)")
        }
    }

    /// Applies the patch to `current` (a view of the stored object, or a Scale).
    func apply(to current: JSONValue, type: ResourceType, name: String, asKind kind: String? = nil, group: String? = nil) throws -> JSONValue {
        switch self.kind {
        case .merge:
            guard case .object = body else { throw APIError.badRequest("json: cannot unmarshal into Go value of type map[string]interface {}") }
            return Patches.mergePatch(current, body)
        case .strategic:
            guard case .object = body else { throw APIError.badRequest("json: cannot unmarshal into Go value of type map[string]interface {}") }
            return Patches.strategicMergePatch(current, body)
        case .json:
            do {
                return try Patches.jsonPatch(current, body)
            } catch {
                switch error {
                case .malformed(let m): throw APIError.badRequest(m)
                case .tooManyOperations: throw APIError(code: 422, reason: "RequestEntityTooLarge", message: error.description)
                default: throw APIError(code: 422, reason: "Invalid", message: "the server rejected our request due to an error in our request: \(error.description)",
                                        details: .emptyObject)
                }
            }
        case .apply:
            let expectedVersion = current["apiVersion"]?.stringValue ?? type.apiVersion
            let expectedKind = kind ?? current["kind"]?.stringValue ?? type.kind
            if body["apiVersion"]?.stringValue != expectedVersion || body["kind"]?.stringValue != expectedKind {
                throw APIError.badRequest("Incorrect version specified in apply patch. Specified patch version: \(body["apiVersion"]?.stringValue ?? ""), expected: \(expectedVersion)")
            }
            if body["metadata"]?["managedFields"] != nil {
                throw APIError.badRequest("metadata.managedFields must be nil")
            }
            // Approximation: the applied configuration is merged in (no field ownership tracking).
            return Patches.strategicMergePatch(current, body)
        }
    }
}

/// YAML (or JSON, which is YAML) request bodies.
enum YAMLBodies {
    static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        if let json = try? JSONValue.parse(bytes) { return json }
        return try JSONValue.parseYAML(String(decoding: bytes, as: UTF8.self))
    }
}
