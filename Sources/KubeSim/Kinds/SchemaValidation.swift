import BatchCore
/// Validation of custom resources against their CRD's `openAPIV3Schema`, as the API server does on create,
/// update and the `/status` subresource (the whole object each time): type, nullable, enum, minimum/maximum
/// (and exclusive), minLength/maxLength, pattern, format (date-time, date, uuid, int32), required,
/// minItems/maxItems, x-kubernetes-int-or-string.
///
/// The messages are those of kube-openapi's validator (`pkg/validation/errors/schema.go`: `"%s in %s
/// should be greater than or equal to %v"`, ...), turned into a `field.ErrorList` the way
/// `apiextensions-apiserver/pkg/apiserver/validation/validation.go` (`ValidateCustomResource`) does:
/// required → `field.Required`, enum → `field.NotSupported`, a wrong type or format → `field.TypeInvalid`,
/// too long → `field.TooLongMaxLength`, too many items → `field.TooMany`, anything else → `field.Invalid`.
/// The 422 Status is apimachinery's `NewInvalid` (`APIError.invalid`).
///
/// Then the CEL rules (`x-kubernetes-validations`), as `customResourceStrategy.Validate`
/// (`apiextensions-apiserver/pkg/registry/customresource/strategy.go`) runs them: not at all when the schema
/// errors include a blocking one (Required, NotSupported, TooLong, TooMany, TypeInvalid: `hasBlockingErr`,
/// which adds the `<nil>` cause "some validation rules were not checked ..."); otherwise each rule with `self`
/// bound to the value where it is declared, and `oldSelf` to the old object's value there on update
/// (transition rules are skipped without one). A failed rule gives `field.Invalid(path, <schema type>,
/// message)` (`pkg/apiserver/schema/cel/validation.go`; `failed rule: RULE` without a message). With
/// validation ratcheting (on by default since 1.30), a value unchanged from the old object is not checked.
enum SchemaValidation {
    /// Where the schema declares CEL rules, and the value there.
    struct RuleSite {
        var field: String
        /// Member names from the root to the value; nil inside a list (no old value is correlated there).
        var keys: [String]?
        var value: JSONValue
        var schemaType: String
        var rules: [JSONValue]
    }

    /// Throws 422 Invalid when `object` breaks `type.schema` or its CEL rules (custom resources only).
    /// - Parameters:
    ///   - old: the stored object on update (for `oldSelf` and ratcheting).
    ///   - evaluator: the CEL helper; without one, CEL rules are not evaluated (KubeSim warns once).
    static func validate(_ object: JSONValue, type: ResourceType, old: JSONValue? = nil, evaluator: CELEvaluator? = nil) throws {
        guard type.isCustom, let schema = type.schema, case .object(var members) = object else { return }
        for key in ["apiVersion", "kind", "metadata"] { members[key] = nil }
        var root = schema
        if var properties = root["properties"]?.objectValue {
            for key in ["apiVersion", "kind", "metadata"] { properties[key] = nil }
            root["properties"] = .object(properties)
        }
        var causes: [APIError.Cause] = []
        var sites: [RuleSite] = []
        check(.object(members), schema: root, path: "", keys: [], causes: &causes, sites: &sites)
        if !sites.isEmpty {
            let blocking: Set<String> = ["FieldValueRequired", "FieldValueNotSupported", "FieldValueTooLong", "FieldValueTooMany", "FieldValueTypeInvalid"]
            if causes.contains(where: { blocking.contains($0.reason) }) {
                causes.append(.init(reason: "FieldValueInvalid", field: "<nil>",
                                    message: "Invalid value: \"null\": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"))
            } else if let evaluator {
                causes += try celCauses(sites, old: old, evaluator: evaluator)
            } else {
                Simulator.warnOnce("no CEL helper (--cel-python): the CRDs' x-kubernetes-validations rules are not evaluated")
            }
        }
        guard !causes.isEmpty else { return }
        throw APIError.invalid(kind: type.kind, group: type.group, name: object["metadata"]?["name"]?.stringValue ?? "", causes: causes)
    }

    /// The causes of the rules that fail, one CEL helper request per site.
    private static func celCauses(_ sites: [RuleSite], old: JSONValue?, evaluator: CELEvaluator) throws -> [APIError.Cause] {
        var causes: [APIError.Cause] = []
        for site in sites {
            var request: JSONValue = ["rules": .array(site.rules), "self": site.value]
            if let old, let keys = site.keys {
                var oldValue: JSONValue? = old
                for key in keys { oldValue = oldValue?[key] }
                if let oldValue {
                    if oldValue == site.value { continue }   // ratcheting: unchanged, not checked again
                    request["oldSelf"] = oldValue
                }
            }
            let answer: JSONValue
            do { answer = try evaluator.evaluate(request) } catch {
                throw APIError(code: 500, reason: "InternalError", message: "evaluating the CRD's x-kubernetes-validations at \(site.field): \(error)")
            }
            guard answer["result"]?.stringValue == "rules" else {
                throw APIError(code: 500, reason: "InternalError",
                               message: "evaluating the CRD's x-kubernetes-validations at \(site.field): \(answer["message"]?.stringValue ?? answer.compactString)")
            }
            for failure in answer["failures"]?.arrayValue ?? [] {
                let reason = failure["reason"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? "FieldValueInvalid"
                causes.append(.init(reason: reason, field: site.field,
                                    message: "Invalid value: \"\(site.schemaType)\": \(failure["message"]?.stringValue ?? "")"))
            }
        }
        return causes
    }

    /// How a value appears after `Invalid value: ` (apimachinery's `field.Error.ErrorBody`: strings quoted, numbers and
    /// booleans bare, null as `"null"`, objects and arrays as JSON).
    static func shown(_ value: JSONValue) -> String {
        switch value {
        case .null: return "\"null\""
        case .string(let s): return JSONValue.string(s).compactString
        case .int(let i): return String(i)
        case .double(let d): return goNumber(d)
        case .bool(let b): return b ? "true" : "false"
        case .array, .object: return value.compactString
        }
    }

    /// Go's `%v` of a float64: integral values without a decimal point.
    static func goNumber(_ d: Double) -> String {
        if d.isFinite, d.rounded() == d, abs(d) < 9e18 { return String(Int64(d)) }
        return "\(d)"
    }

    /// The type name kube-openapi reports for a value (`string`, `integer`, `number`, `boolean`, `array`, `object`, `null`).
    static func typeName(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "boolean"
        case .int: return "integer"
        case .double(let d): return d.rounded() == d ? "integer" : "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    private static func number(_ v: JSONValue) -> Double? {
        switch v {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    private static func check(_ value: JSONValue, schema: JSONValue, path: String, keys: [String]?, causes: inout [APIError.Cause],
                              sites: inout [RuleSite]) {
        let field = path.isEmpty ? "<root>" : path
        if let rules = schema["x-kubernetes-validations"]?.arrayValue, !rules.isEmpty, value != .null {
            sites.append(RuleSite(field: field, keys: keys, value: value, schemaType: schema["type"]?.stringValue ?? typeName(value), rules: rules))
        }
        let inBody = "\(field) in body"
        func invalid(_ detail: String) {
            causes.append(.init(reason: "FieldValueInvalid", field: field, message: "Invalid value: \(shown(value)): \(detail)"))
        }
        func typeInvalid(_ wanted: String) {
            let data = typeName(value)
            causes.append(.init(reason: "FieldValueTypeInvalid", field: field,
                                message: "Invalid value: \"\(data)\": \(inBody) must be of type \(wanted): \"\(data)\""))
        }
        if case .null = value {
            if schema["nullable"]?.boolValue == true || schema["type"] == nil { return }
            typeInvalid(schema["type"]?.stringValue ?? "")
            return
        }
        // Type.
        if schema["x-kubernetes-int-or-string"]?.boolValue == true {
            switch value {
            case .int, .string: break
            case .double(let d) where d.rounded() == d: break
            default:
                let data = typeName(value)
                causes.append(.init(reason: "FieldValueTypeInvalid", field: field,
                                    message: "Invalid value: \"\(data)\": \(inBody) must be of type integer,string: \"\(data)\""))
                return
            }
        } else if let wanted = schema["type"]?.stringValue, !wanted.isEmpty {
            let actual = typeName(value)
            let ok = actual == wanted || (wanted == "number" && actual == "integer")
            guard ok else {
                typeInvalid(wanted)
                return
            }
        }
        // Enum.
        if let allowed = schema["enum"]?.arrayValue, !allowed.isEmpty, !allowed.contains(where: { same($0, value) }) {
            let supported = allowed.map { $0.stringValue.map { JSONValue.string($0).compactString } ?? $0.compactString }
            causes.append(.init(reason: "FieldValueNotSupported", field: field,
                                message: "Unsupported value: \(shown(value)): supported values: \(supported.joined(separator: ", "))"))
        }
        switch value {
        case .int, .double:
            let n = number(value) ?? 0
            if let min = schema["minimum"].flatMap(number) {
                if schema["exclusiveMinimum"]?.boolValue == true, n <= min { invalid("\(inBody) should be greater than \(goNumber(min))") }
                else if n < min { invalid("\(inBody) should be greater than or equal to \(goNumber(min))") }
            }
            if let max = schema["maximum"].flatMap(number) {
                if schema["exclusiveMaximum"]?.boolValue == true, n >= max { invalid("\(inBody) should be less than \(goNumber(max))") }
                else if n > max { invalid("\(inBody) should be less than or equal to \(goNumber(max))") }
            }
            if schema["format"]?.stringValue == "int32", n < -2_147_483_648 || n > 2_147_483_647 {
                invalid("\(inBody) must be of type int32")
            }
        case .string(let s):
            let length = s.unicodeScalars.count
            if let max = schema["maxLength"]?.intValue, length > max {
                causes.append(.init(reason: "FieldValueTooLong", field: field, message: "Too long: may not be more than \(max) bytes"))
            }
            if let min = schema["minLength"]?.intValue, length < min { invalid("\(inBody) should be at least \(min) chars long") }
            if let pattern = schema["pattern"]?.stringValue, let regex = try? Regex(pattern), (try? regex.firstMatch(in: s)) == nil {
                invalid("\(inBody) should match '\(pattern)'")
            }
            if let format = schema["format"]?.stringValue, !Formats.accepts(format, s) {
                causes.append(.init(reason: "FieldValueTypeInvalid", field: field,
                                    message: "Invalid value: \(shown(value)): \(inBody) must be of type \(format): \(shown(value))"))
            }
        case .array(let items):
            if let max = schema["maxItems"]?.intValue, items.count > max {
                causes.append(.init(reason: "FieldValueTooMany", field: field, message: "Too many: \(items.count): must have at most \(max) items"))
            }
            if let min = schema["minItems"]?.intValue, items.count < min { invalid("\(inBody) should have at least \(min) items") }
            if let itemSchema = schema["items"], case .object = itemSchema {
                for (i, item) in items.enumerated() { check(item, schema: itemSchema, path: "\(path)[\(i)]", keys: nil, causes: &causes, sites: &sites) }
            }
        case .object(let members):
            for name in (schema["required"]?.arrayValue ?? []).compactMap(\.stringValue) where members[name] == nil {
                causes.append(.init(reason: "FieldValueRequired", field: join(path, name), message: "Required value"))
            }
            let properties = schema["properties"]?.objectValue ?? [:]
            for key in members.keys.sorted() {
                guard let child = members[key] else { continue }
                if let propertySchema = properties[key] {
                    check(child, schema: propertySchema, path: join(path, key), keys: keys.map { $0 + [key] }, causes: &causes, sites: &sites)
                } else if let additional = schema["additionalProperties"], case .object = additional {
                    check(child, schema: additional, path: join(path, key), keys: keys.map { $0 + [key] }, causes: &causes, sites: &sites)
                }
            }
        default:
            break
        }
    }

    private static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// JSON equality with 3 == 3.0.
    private static func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if let x = number(a), let y = number(b) { return x == y }
        return a == b
    }
}

/// The string formats of kube-openapi's `strfmt` registry that CRDs commonly use.
enum Formats {
    /// Whether `value` is a valid `format`; formats KubeSim does not know are accepted, as unknown ones are.
    static func accepts(_ format: String, _ value: String) -> Bool {
        switch format {
        case "date-time": return value.wholeMatch(of: dateTime) != nil
        case "date": return value.wholeMatch(of: date) != nil
        case "uuid": return value.wholeMatch(of: uuid) != nil
        default: return true
        }
    }

    // RFC 3339 (strfmt.ParseDateTime's layouts: `T` or `t` or a space, fractional seconds, `Z` or an offset).
    nonisolated(unsafe) static let dateTime = /[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])/
    nonisolated(unsafe) static let date = /[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])/
    nonisolated(unsafe) static let uuid = /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/
}

/// Structural defaulting of custom resources: a property missing from an object (or null where the schema does
/// not allow null) takes its schema `default`, at every depth, as the API server does when it decodes a request
/// (`staging/src/k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting/algorithm.go`, `Default`):
/// defaults first, then the recursion into the object's properties (so defaults inside a defaulted object apply).
enum SchemaDefaulting {
    /// `object` with its CRD schema's defaults applied (custom resources only).
    static func apply(_ object: JSONValue, type: ResourceType) -> JSONValue {
        guard type.isCustom, let schema = type.schema else { return object }
        return apply(object, schema: schema, depth: 0)
    }

    private static func apply(_ value: JSONValue, schema: JSONValue, depth: Int) -> JSONValue {
        guard depth < 64 else { return value }   // schemas are finite; this bounds a hostile one
        switch value {
        case .object(var members):
            for (key, property) in schema["properties"]?.objectValue ?? [:] {
                guard let defaultValue = property["default"] else { continue }
                let nonNullableNull = members[key] == .null && property["nullable"]?.boolValue != true
                if members[key] == nil || nonNullableNull { members[key] = defaultValue }
            }
            let properties = schema["properties"]?.objectValue ?? [:]
            for (key, child) in members {
                if let property = properties[key] {
                    members[key] = apply(child, schema: property, depth: depth + 1)
                } else if let additional = schema["additionalProperties"], case .object = additional {
                    members[key] = apply(child, schema: additional, depth: depth + 1)
                }
            }
            return .object(members)
        case .array(let items):
            guard let itemSchema = schema["items"], case .object = itemSchema else { return value }
            return .array(items.map { apply($0, schema: itemSchema, depth: depth + 1) })
        default:
            return value
        }
    }
}
