import BatchCore
import Foundation
import MemberwiseInit

/// GET/LIST/POST/PUT/PATCH/DELETE of objects, with the apiserver's metadata, resourceVersion and generation rules.
extension Simulator {
    /// The stored object as `type` presents it (kind/apiVersion set, events converted to the view).
    func view(_ stored: JSONValue, as type: ResourceType) -> JSONValue {
        var o = type.storageKey == "events" ? EventViews.toView(stored, type: type) : stored
        o["kind"] = .string(type.kind)
        o["apiVersion"] = .string(type.apiVersion)
        return o
    }

    /// A request body (as `type` presents it) converted to the stored form.
    func toStorage(_ object: JSONValue, as type: ResourceType) -> JSONValue {
        var o = type.storageKey == "events" ? EventViews.fromView(object, type: type) : object
        o["kind"] = .string(type.kind)
        o["apiVersion"] = .string(type.apiVersion)
        if type.storageKey == "events" {
            o["kind"] = "Event"
            o["apiVersion"] = "events.k8s.io/v1"
        }
        return o
    }

    func namespaceOf(_ type: ResourceType, _ info: RequestInfo) -> String { type.namespaced ? info.namespace : "" }

    func currentObject(_ type: ResourceType, _ info: RequestInfo) throws -> JSONValue {
        guard let stored = store.get(type.storageKey, namespace: namespaceOf(type, info), name: info.name) else {
            throw APIError.notFound(resource: type.plural, group: type.group, name: info.name)
        }
        return stored
    }

    func getObject(_ type: ResourceType, _ info: RequestInfo) throws -> JSONValue {
        view(try currentObject(type, info), as: type)
    }

    func parseBody(_ request: APIRequest) throws -> JSONValue {
        if request.contentType.contains("protobuf") || request.contentType.contains("cbor") {
            throw APIError.unsupportedMediaType(request.contentType, accepted: ["application/json", "application/yaml"])
        }
        do {
            if request.contentType.contains("yaml") { return try YAMLBodies.parse(request.body) }
            return try JSONValue.parse(request.body)
        } catch {
            throw APIError.badRequest("the object provided is unrecognized or malformed: \(error)")
        }
    }

    // MARK: list

    func listObjects(_ request: APIRequest, _ type: ResourceType, _ info: RequestInfo) throws -> APIResponse {
        let (labels, fields) = try selectors(request, type)
        let (items, storeVersion) = store.list(type.storageKey, namespace: type.namespaced ? info.namespace : nil)
        var selected = items.map { view($0, as: type) }.filter { matches($0, type: type, labels: labels, fields: fields) }
        var rv = storeVersion
        var listMeta: JSONValue = .emptyObject
        // Paging: `continue` carries the list's version and the last key served.
        if let token = request.query["continue"], !token.isEmpty {
            guard let page = ContinueToken(token) else { throw APIError.badRequest("continue key is not valid: \(token)") }
            if page.resourceVersion < store.compactedThrough {
                throw APIError.expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.")
            }
            rv = page.resourceVersion
            selected = selected.filter { ContinueToken.key($0) > page.lastKey }
        }
        if let limit = Int(request.query["limit"] ?? ""), limit > 0, selected.count > limit {
            let remaining = selected.count - limit
            selected = Array(selected.prefix(limit))
            listMeta["continue"] = .string(ContinueToken(resourceVersion: rv, lastKey: ContinueToken.key(selected[limit - 1])).encoded)
            listMeta["remainingItemCount"] = .int(Int64(remaining))
        }
        listMeta["resourceVersion"] = .string(String(rv))
        if Tables.wanted(request) {
            var table = Tables.table(for: type, objects: selected, resourceVersion: rv, includeObject: request.query["includeObject"] ?? "Metadata")
            table["metadata"] = listMeta
            return .json(table)
        }
        let listItems: [JSONValue] = selected.map { o in
            if type.isCustom { return o }
            var stripped = o
            stripped["kind"] = nil
            stripped["apiVersion"] = nil
            return stripped
        }
        return .json(["kind": .string(type.listKind), "apiVersion": .string(type.apiVersion),
                      "metadata": listMeta, "items": .array(listItems)])
    }

    func selectors(_ request: APIRequest, _ type: ResourceType) throws -> (LabelSelector, FieldSelector) {
        do {
            let labels = try request.query["labelSelector"].map { try LabelSelector(parsing: $0) } ?? .everything
            let fields = try request.query["fieldSelector"].map { try FieldSelector(parsing: $0) } ?? .everything
            let supported = FieldLabels.supported(type)
            for f in fields.fields where !supported.contains(f) {
                throw APIError.badRequest("field label not supported: \(f)")
            }
            return (labels, fields)
        } catch let error as SelectorError {
            throw APIError.badRequest("unable to parse requirement: \(error.description)")
        }
    }

    func matches(_ object: JSONValue, type: ResourceType, labels: LabelSelector, fields: FieldSelector) -> Bool {
        labels.matches(object["metadata"]?["labels"]?.stringMap ?? [:]) && fields.matches(FieldLabels.values(object, type: type))
    }

    // MARK: create

    func createObject(_ request: APIRequest, _ type: ResourceType, _ info: RequestInfo, validation: Pruning.FieldValidation? = nil) throws -> JSONValue {
        guard info.name.isEmpty else { throw APIError.methodNotAllowed() }
        var object = try parseBody(request)
        guard case .object = object else { throw APIError.badRequest("the object provided is unrecognized or malformed") }
        try checkKind(object, type)
        let namespace = namespaceOf(type, info)
        if type.namespaced {
            if let bodyNS = object["metadata"]?["namespace"]?.stringValue, !bodyNS.isEmpty, bodyNS != namespace {
                throw APIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
            }
            object[path: ["metadata", "namespace"]] = .string(namespace)
        } else {
            object[path: ["metadata", "namespace"]] = nil
        }
        var name = object["metadata"]?["name"]?.stringValue ?? ""
        if name.isEmpty, let prefix = object["metadata"]?["generateName"]?.stringValue, !prefix.isEmpty {
            name = prefix + Names.randomSuffix(5)
            object[path: ["metadata", "name"]] = .string(name)
        }
        guard !name.isEmpty else {
            throw APIError.invalid(kind: type.kind, group: type.group, name: "",
                                   causes: [.init(reason: "FieldValueRequired", field: "metadata.name", message: "Required value: name or generateName is required")])
        }
        if type.namespaced, store.get(ResourceType.namespaces.storageKey, namespace: "", name: namespace) == nil {
            throw APIError.notFound(resource: "namespaces", group: "", name: namespace)
        }
        object[path: ["metadata", "resourceVersion"]] = nil
        object[path: ["metadata", "uid"]] = nil
        object[path: ["metadata", "deletionTimestamp"]] = nil
        if type.statusSubresource, type.plural != "pods", type.plural != "namespaces" { object["status"] = nil }
        object = Self.newMetadata(object, generation: type.hasGeneration)
        object = SchemaDefaulting.apply(try Pruning.apply(object, type: type, validation: validation), type: type)
        try SchemaValidation.validate(object, type: type, evaluator: celEvaluator)
        object[path: ["metadata", "managedFields"]] = nil
        try ManagedFields.record(old: nil, new: &object, type: type, subresource: "", writer: validation?.writer)
        object = try Kinds.prepareCreate(object, type: type, simulator: self)
        var warnings: [String] = []
        try admit(admissionContext(namespace: namespace, user: validation?.user), type: type, subresource: "", operation: "CREATE",
                  name: name, namespace: namespace, object: object, oldObject: nil, user: validation?.user, warnings: &warnings)
        validation?.warnings += warnings
        let stored = toStorage(object, as: type)
        let result = try store.transact(type.storageKey, namespace: namespace, name: name) { current in
            if current != nil { throw APIError.alreadyExists(resource: type.plural, group: type.group, name: name) }
            return .put(stored)
        }
        let created = view(result ?? stored, as: type)
        afterWrite(type, created)
        return created
    }

    func checkKind(_ object: JSONValue, _ type: ResourceType) throws {
        if let kind = object["kind"]?.stringValue, !kind.isEmpty, kind != type.kind {
            throw APIError.badRequest("the API version in the data (\(object["apiVersion"]?.stringValue ?? "")) does not match the expected API version (\(type.apiVersion))")
        }
        if let apiVersion = object["apiVersion"]?.stringValue, !apiVersion.isEmpty, apiVersion != type.apiVersion {
            throw APIError.badRequest("the API version in the data (\(apiVersion)) does not match the expected API version (\(type.apiVersion))")
        }
    }

    // MARK: update and patch

    func updateObject(_ request: APIRequest, _ type: ResourceType, _ info: RequestInfo, validation: Pruning.FieldValidation? = nil) throws -> JSONValue {
        var object = try parseBody(request)
        guard case .object = object else { throw APIError.badRequest("the object provided is unrecognized or malformed") }
        try checkKind(object, type)
        if let bodyName = object["metadata"]?["name"]?.stringValue, bodyName != info.name {
            throw APIError.badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(info.name))")
        }
        object[path: ["metadata", "name"]] = .string(info.name)
        let rv = object["metadata"]?["resourceVersion"]?.stringValue ?? ""
        if rv.isEmpty, !type.allowsUnconditionalUpdate {
            throw APIError.invalid(kind: type.kind, group: type.group, name: info.name,
                                   causes: [.init(reason: "FieldValueInvalid", field: "metadata.resourceVersion", message: "Invalid value: 0x0: must be specified for an update")])
        }
        return try commitUpdate(type, info, subresource: info.subresource, validation: validation) { _ in object }
    }

    func patchObject(_ request: APIRequest, _ type: ResourceType, _ info: RequestInfo, validation: Pruning.FieldValidation? = nil) throws -> JSONValue {
        let patch = try PatchRequest(request, type: type)
        if patch.kind == .apply {
            validation?.writer.appliedPaths = ManagedFields.leafPaths(patch.body, includeStatus: info.subresource == "status")
        }
        if patch.kind == .apply, info.subresource.isEmpty,
           store.get(type.storageKey, namespace: namespaceOf(type, info), name: info.name) == nil {
            return try applyCreate(patch, request, type, info, validation: validation)
        }
        return try commitUpdate(type, info, subresource: info.subresource, validation: validation) { current in
            try patch.apply(to: current, type: type, name: info.name)
        }
    }

    /// Server-side apply of a missing object creates it (201).
    func applyCreate(_ patch: PatchRequest, _ request: APIRequest, _ type: ResourceType, _ info: RequestInfo,
                     validation: Pruning.FieldValidation?) throws -> JSONValue {
        if patch.body["apiVersion"]?.stringValue != type.apiVersion || patch.body["kind"]?.stringValue != type.kind {
            throw APIError.badRequest("Incorrect version specified in apply patch. Specified patch version: \(patch.body["apiVersion"]?.stringValue ?? ""), expected: \(type.apiVersion)")
        }
        var body = patch.body
        if let name = body["metadata"]?["name"]?.stringValue, name != info.name {
            throw APIError.badRequest("the name of the object (\(name)) does not match the name on the URL (\(info.name))")
        }
        body[path: ["metadata", "name"]] = .string(info.name)
        var collection = info
        collection.name = ""
        let create = APIRequest(method: "POST", target: request.path, headers: ["content-type": "application/json"],
                                body: body.compactBytes, user: request.user)
        validation?.created = true
        return try createObject(create, type, collection, validation: validation)
    }

    /// Reads the current object, lets `change` build the new one (in the view's shape), applies the
    /// resourceVersion/uid preconditions and the main-resource vs `/status` rules, and stores it.
    func commitUpdate(_ type: ResourceType, _ info: RequestInfo, subresource: String, validation: Pruning.FieldValidation? = nil,
                      _ change: (JSONValue) throws -> JSONValue) throws -> JSONValue {
        let namespace = namespaceOf(type, info)
        var finalized = false
        let admission = admissionContext(namespace: namespace, user: validation?.user)
        var warnings: [String] = []
        defer { validation?.warnings += warnings }
        let result = try store.transact(type.storageKey, namespace: namespace, name: info.name) { stored in
            guard let stored else { throw APIError.notFound(resource: type.plural, group: type.group, name: info.name) }
            let old = self.view(stored, as: type)
            var new = try change(old)
            guard case .object = new else { throw APIError.badRequest("the object provided is unrecognized or malformed") }
            try self.checkKind(new, type)
            let oldMeta = old["metadata"] ?? .emptyObject
            if let rv = new["metadata"]?["resourceVersion"]?.stringValue, !rv.isEmpty, rv != oldMeta["resourceVersion"]?.stringValue {
                throw APIError.conflict(resource: type.plural, group: type.group, name: info.name)
            }
            if let uid = new["metadata"]?["uid"]?.stringValue, !uid.isEmpty, uid != oldMeta["uid"]?.stringValue {
                throw APIError.conflict(resource: type.plural, group: type.group, name: info.name,
                                        because: "Precondition failed: UID in precondition: \(uid), UID in object meta: \(oldMeta["uid"]?.stringValue ?? "")")
            }
            if let newName = new["metadata"]?["name"]?.stringValue, newName != info.name {
                throw APIError.badRequest("the name of the object (\(newName)) does not match the name on the URL (\(info.name))")
            }
            // Server-owned metadata is kept.
            for key in ["uid", "creationTimestamp", "generation", "namespace", "name", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"] {
                new[path: ["metadata", key]] = oldMeta[key]
            }
            if subresource == "status" {
                // Only status changes through /status.
                var merged = old
                merged["status"] = new["status"]
                new = merged
            } else if type.statusSubresource {
                new["status"] = old["status"]
            }
            if type.hasGeneration, subresource != "status", Self.generationChanged(old: old, new: new, type: type) {
                new[path: ["metadata", "generation"]] = .int((oldMeta["generation"]?.intValue ?? 1) + 1)
            }
            new = try Kinds.prepareUpdate(new, old: old, type: type, simulator: self)
            new = SchemaDefaulting.apply(try Pruning.apply(new, type: type, validation: validation), type: type)
            try SchemaValidation.validate(new, type: type, old: old, evaluator: self.celEvaluator)
            try ManagedFields.record(old: old, new: &new, type: type, subresource: subresource, writer: validation?.writer)
            try self.admit(admission, type: type, subresource: subresource, operation: "UPDATE", name: info.name, namespace: namespace,
                           object: new, oldObject: old, user: validation?.user, warnings: &warnings)
            if new == old { return .none }
            if new["metadata"]?["deletionTimestamp"] != nil, (new["metadata"]?["finalizers"]?.arrayValue ?? []).isEmpty {
                finalized = true
                return .delete
            }
            return .put(self.toStorage(new, as: type))
        }
        guard let result else { throw APIError.notFound(resource: type.plural, group: type.group, name: info.name) }
        let updated = view(result, as: type)
        if finalized {
            afterDelete(type, updated)
            return updated
        }
        afterWrite(type, updated)
        return updated
    }

    /// Generation bumps when anything outside metadata and status changed (and, for Deployments, annotations).
    static func generationChanged(old: JSONValue, new: JSONValue, type: ResourceType) -> Bool {
        var a = old, b = new
        for key in ["metadata", "status", "kind", "apiVersion"] {
            a[key] = nil
            b[key] = nil
        }
        if a != b { return true }
        if type.annotationsBumpGeneration {
            return (old["metadata"]?["annotations"] ?? .emptyObject) != (new["metadata"]?["annotations"] ?? .emptyObject)
        }
        return false
    }

    // MARK: delete

    func deleteObject(_ request: APIRequest, _ type: ResourceType, _ info: RequestInfo) throws -> APIResponse {
        let options = request.body.isEmpty ? JSONValue.emptyObject : try parseBody(request)
        let namespace = namespaceOf(type, info)
        var pending = false
        let deleted = try store.transact(type.storageKey, namespace: namespace, name: info.name) { current in
            guard let current else { throw APIError.notFound(resource: type.plural, group: type.group, name: info.name) }
            if let rv = options["preconditions"]?["resourceVersion"]?.stringValue,
               rv != current["metadata"]?["resourceVersion"]?.stringValue {
                throw APIError.conflict(resource: type.plural, group: type.group, name: info.name,
                                        because: "Precondition failed: ResourceVersion in precondition: \(rv), ResourceVersion in object meta: \(current["metadata"]?["resourceVersion"]?.stringValue ?? "")")
            }
            if let uid = options["preconditions"]?["uid"]?.stringValue, uid != current["metadata"]?["uid"]?.stringValue {
                throw APIError.conflict(resource: type.plural, group: type.group, name: info.name,
                                        because: "Precondition failed: UID in precondition: \(uid), UID in object meta: \(current["metadata"]?["uid"]?.stringValue ?? "")")
            }
            // Finalizers: the object stays, marked for deletion, until its finalizers are removed.
            if !(current["metadata"]?["finalizers"]?.arrayValue ?? []).isEmpty {
                pending = true
                if current["metadata"]?["deletionTimestamp"] != nil { return .none }
                var marked = current
                marked[path: ["metadata", "deletionTimestamp"]] = .string(Timestamps.rfc3339())
                marked[path: ["metadata", "deletionGracePeriodSeconds"]] = 0
                return .put(marked)
            }
            return .delete
        }
        guard let deleted else { throw APIError.notFound(resource: type.plural, group: type.group, name: info.name) }
        let object = view(deleted, as: type)
        if pending { return .json(object) }
        afterDelete(type, object)
        if type.plural == "pods" || type.isCustom || type.plural == "namespaces" || type.plural == "customresourcedefinitions" {
            return .json(object)
        }
        var details = APIError.details(name: info.name, group: type.group, kind: type.plural)
        details["uid"] = object["metadata"]?["uid"]
        return .json(["kind": "Status", "apiVersion": "v1", "metadata": .emptyObject, "status": "Success", "details": details])
    }

    func deleteCollection(_ request: APIRequest, _ type: ResourceType, _ info: RequestInfo) throws -> APIResponse {
        let (labels, fields) = try selectors(request, type)
        let (items, _) = store.list(type.storageKey, namespace: type.namespaced ? info.namespace : nil)
        var deleted: [JSONValue] = []
        for item in items.map({ view($0, as: type) }) where matches(item, type: type, labels: labels, fields: fields) {
            let ns = item["metadata"]?["namespace"]?.stringValue ?? ""
            let name = item["metadata"]?["name"]?.stringValue ?? ""
            if let d = try store.transact(type.storageKey, namespace: ns, name: name, { $0 == nil ? .none : .delete }) {
                let o = view(d, as: type)
                afterDelete(type, o)
                deleted.append(o)
            }
        }
        return .json(["kind": .string(type.listKind), "apiVersion": .string(type.apiVersion),
                      "metadata": ["resourceVersion": .string(String(store.currentResourceVersion))], "items": .array(deleted)])
    }

    // MARK: hooks

    func afterWrite(_ type: ResourceType, _ object: JSONValue) {
        Kinds.afterWrite(object, type: type, simulator: self)
    }

    func afterDelete(_ type: ResourceType, _ object: JSONValue) {
        Kinds.afterDelete(object, type: type, simulator: self)
    }
}

/// Random names like the apiserver's `generateName` suffixes.
enum Names {
    static let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
    static func randomSuffix(_ n: Int) -> String {
        String((0..<n).map { _ in alphabet.randomElement()! })
    }
}

/// An opaque list `continue` token: base64 of `{"rv":N,"start":"ns/name"}`.
@MemberwiseInit
struct ContinueToken {
    var resourceVersion: Int64
    var lastKey: String

    init?(_ token: String) {
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let json = try? JSONValue.parse(Array(data)),
              let rv = json["rv"]?.intValue, let start = json["start"]?.stringValue else { return nil }
        resourceVersion = rv
        lastKey = start
    }

    var encoded: String {
        Data(JSONValue.object(["rv": .int(resourceVersion), "start": .string(lastKey)]).compactBytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// The sort key of an object in a list (namespace/name, as the store orders them).
    static func key(_ o: JSONValue) -> String {
        "\(o["metadata"]?["namespace"]?.stringValue ?? "")/\(o["metadata"]?["name"]?.stringValue ?? "")"
    }
}
