import BatchCore
import Foundation

/// Typed behaviour of built-in kinds, where the generic store is not enough.
enum Kinds {
    /// Defaults and validation on create.
    static func prepareCreate(_ object: JSONValue, type: ResourceType, simulator: Simulator) throws -> JSONValue {
        var o = object
        switch (type.group, type.plural) {
        case ("apps", "deployments"):
            o = try Deployments.defaulted(o)
            try Deployments.validate(o)
        case ("events.k8s.io", "events"):
            try EventViews.validateCreate(o)
        case ("", "events"):
            if o["involvedObject"] == nil { o["involvedObject"] = .emptyObject }
        case ("", "namespaces"):
            o[path: ["metadata", "labels", "kubernetes.io/metadata.name"]] = o["metadata"]?["name"]
            o["status"] = ["phase": "Active"]
            o["spec"] = ["finalizers": ["kubernetes"]]
        case ("apiextensions.k8s.io", "customresourcedefinitions"):
            o = try CRDs.validateAndEstablish(o)
        default:
            break
        }
        return o
    }

    /// Defaults and validation on update (main resource and subresources).
    static func prepareUpdate(_ new: JSONValue, old: JSONValue, type: ResourceType, simulator: Simulator) throws -> JSONValue {
        var o = new
        switch (type.group, type.plural) {
        case ("apps", "deployments"):
            o = try Deployments.defaulted(o)
            try Deployments.validate(o)
        case ("events.k8s.io", "events"):
            var a = old, b = o
            for key in ["series", "metadata"] {
                a[key] = nil
                b[key] = nil
            }
            if a != b {
                throw APIError.invalid(kind: "Event", group: "events.k8s.io", name: old["metadata"]?["name"]?.stringValue ?? "",
                                       causes: [.init(reason: "FieldValueForbidden", field: "", message: "Forbidden: only series may be updated")])
            }
        case ("apiextensions.k8s.io", "customresourcedefinitions"):
            o = try CRDs.validateAndEstablish(o)
        default:
            break
        }
        return o
    }

    static func afterWrite(_ object: JSONValue, type: ResourceType, simulator: Simulator) {
        switch (type.group, type.plural) {
        case ("apps", "deployments"):
            let ref = ObjectRef(namespace: object["metadata"]?["namespace"]?.stringValue ?? "", name: object["metadata"]?["name"]?.stringValue ?? "")
            simulator.deploymentChangesContinuation.yield(ref)
        case ("apiextensions.k8s.io", "customresourcedefinitions"):
            CRDs.register(object, in: simulator.registry)
        case ("admissionregistration.k8s.io", "validatingadmissionpolicies"):
            if let evaluator = simulator.celEvaluator {
                let spec = object["spec"] ?? .emptyObject
                Thread.detachNewThread { evaluator.warmUp(spec) }   // blocking pipe I/O: not on the cooperative pool
            }
        default:
            break
        }
    }

    static func afterDelete(_ object: JSONValue, type: ResourceType, simulator: Simulator) {
        let name = object["metadata"]?["name"]?.stringValue ?? ""
        switch (type.group, type.plural) {
        case ("apps", "deployments"):
            simulator.deploymentChangesContinuation.yield(ObjectRef(namespace: object["metadata"]?["namespace"]?.stringValue ?? "", name: name))
        case ("apiextensions.k8s.io", "customresourcedefinitions"):
            for t in simulator.registry.all where t.isCustom && "\(t.plural).\(t.group)" == name {
                for item in simulator.store.list(t.storageKey, namespace: nil).items {
                    _ = try? simulator.store.transact(t.storageKey, namespace: item["metadata"]?["namespace"]?.stringValue ?? "",
                                                      name: item["metadata"]?["name"]?.stringValue ?? "") { $0 == nil ? .none : .delete }
                }
            }
            simulator.registry.unregister(crdName: name)
        case ("", "namespaces"):
            for t in simulator.registry.all where t.namespaced {
                for item in simulator.store.list(t.storageKey, namespace: name).items {
                    _ = try? simulator.store.transact(t.storageKey, namespace: name, name: item["metadata"]?["name"]?.stringValue ?? "") { $0 == nil ? .none : .delete }
                    if t.plural == "deployments" {
                        simulator.deploymentChangesContinuation.yield(ObjectRef(namespace: name, name: item["metadata"]?["name"]?.stringValue ?? ""))
                    }
                }
            }
        default:
            break
        }
    }
}
