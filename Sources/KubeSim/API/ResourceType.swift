import BatchCore
/// How a CRD's or a built-in's `/scale` subresource maps onto the object.
public struct ScalePaths: Sendable, Equatable {
    /// Such as `.spec.replicas`.
    public var specReplicasPath: String
    /// Such as `.status.replicas`.
    public var statusReplicasPath: String
    /// Such as `.status.selector` (optional).
    public var labelSelectorPath: String?
}

/// A printer column (CRD `additionalPrinterColumns`).
public struct PrinterColumn: Sendable, Equatable {
    /// Column header.
    public var name: String
    /// `integer`, `number`, `string`, `boolean` or `date`.
    public var type: String
    /// OpenAPI format hint.
    public var format: String
    public var description: String
    /// 0: always shown; higher: only with `-o wide`.
    public var priority: Int
    /// Where the cell value comes from, such as `.spec.holder`.
    public var jsonPath: String
}

/// A kind of object the server serves: one group/version/resource.
public struct ResourceType: Sendable, Equatable {
    /// API group (empty for core).
    public var group: String
    /// Version, such as `v1`.
    public var version: String
    /// Resource name in URLs, such as `deployments`.
    public var plural: String
    /// Singular name (discovery).
    public var singular: String
    /// Kind, such as `Deployment`.
    public var kind: String
    /// Whether objects live in namespaces.
    public var namespaced: Bool
    /// Short names kubectl accepts, such as `deploy`.
    public var shortNames: [String] = []
    /// Categories, such as `all`.
    public var categories: [String] = []
    /// Verbs advertised in discovery.
    public var verbs: [String] = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    /// Whether `/status` is served (and status is split from the main resource).
    public var statusSubresource = false
    /// `/scale`, if served.
    public var scale: ScalePaths?
    /// Whether this was registered by a CRD.
    public var isCustom = false
    /// The CRD's `openAPIV3Schema` (custom resources only), for pruning.
    public var schema: JSONValue?
    /// CRD printer columns (custom resources only).
    public var printerColumns: [PrinterColumn] = []
    /// Objects of resources sharing a storage key are one store (events: core/v1 and events.k8s.io/v1).
    public var storageKey: String

    /// Creates a resource type; `verbs` nil advertises the usual eight (create, delete, deletecollection, get, list,
    /// patch, update, watch).
    public init(group: String, version: String, plural: String, singular: String, kind: String, namespaced: Bool,
                shortNames: [String] = [], categories: [String] = [], verbs: [String]? = nil,
                statusSubresource: Bool = false, scale: ScalePaths? = nil, storageKey: String? = nil) {
        self.group = group
        self.version = version
        self.plural = plural
        self.singular = singular
        self.kind = kind
        self.namespaced = namespaced
        self.shortNames = shortNames
        self.categories = categories
        if let verbs { self.verbs = verbs }
        self.statusSubresource = statusSubresource
        self.scale = scale
        self.storageKey = storageKey ?? (group.isEmpty ? plural : "\(plural).\(group)")
    }

    /// `apps/v1`, or `v1` for the core group.
    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    /// `DeploymentList`.
    public var listKind: String { "\(kind)List" }
    /// Custom resources refuse PUT without a resourceVersion.
    public var allowsUnconditionalUpdate: Bool { !isCustom }
    /// Generation bumps on annotation changes too (Deployments).
    public var annotationsBumpGeneration: Bool { group == "apps" && plural == "deployments" }
    /// Whether a `metadata.generation` is kept.
    public var hasGeneration: Bool { isCustom || ["deployments", "replicasets", "customresourcedefinitions"].contains(plural) }
}

extension ResourceType {
    static let namespaces = ResourceType(group: "", version: "v1", plural: "namespaces", singular: "namespace", kind: "Namespace", namespaced: false, shortNames: ["ns"], verbs: ["create", "delete", "get", "list", "patch", "update", "watch"], statusSubresource: true)
    static let pods = ResourceType(group: "", version: "v1", plural: "pods", singular: "pod", kind: "Pod", namespaced: true, shortNames: ["po"], categories: ["all"], statusSubresource: true)
    static let coreEvents = ResourceType(group: "", version: "v1", plural: "events", singular: "event", kind: "Event", namespaced: true, shortNames: ["ev"], storageKey: "events")
    static let events = ResourceType(group: "events.k8s.io", version: "v1", plural: "events", singular: "event", kind: "Event", namespaced: true, shortNames: ["ev"], storageKey: "events")
    static let configMaps = ResourceType(group: "", version: "v1", plural: "configmaps", singular: "configmap", kind: "ConfigMap", namespaced: true, shortNames: ["cm"])
    static let secrets = ResourceType(group: "", version: "v1", plural: "secrets", singular: "secret", kind: "Secret", namespaced: true)
    static let serviceAccounts = ResourceType(group: "", version: "v1", plural: "serviceaccounts", singular: "serviceaccount", kind: "ServiceAccount", namespaced: true, shortNames: ["sa"])
    static let deployments = ResourceType(group: "apps", version: "v1", plural: "deployments", singular: "deployment", kind: "Deployment", namespaced: true, shortNames: ["deploy"], categories: ["all"], statusSubresource: true, scale: ScalePaths(specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas", labelSelectorPath: nil))
    static let replicaSets = ResourceType(group: "apps", version: "v1", plural: "replicasets", singular: "replicaset", kind: "ReplicaSet", namespaced: true, shortNames: ["rs"], categories: ["all"], statusSubresource: true)
    static let leases = ResourceType(group: "coordination.k8s.io", version: "v1", plural: "leases", singular: "lease", kind: "Lease", namespaced: true)
    static let crds = ResourceType(group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions", singular: "customresourcedefinition", kind: "CustomResourceDefinition", namespaced: false, shortNames: ["crd", "crds"], categories: ["api-extensions"], statusSubresource: true)
    static let selfSubjectReviews = ResourceType(group: "authentication.k8s.io", version: "v1", plural: "selfsubjectreviews", singular: "", kind: "SelfSubjectReview", namespaced: false, verbs: ["create"])
    static let roles = ResourceType(group: "rbac.authorization.k8s.io", version: "v1", plural: "roles", singular: "role", kind: "Role", namespaced: true)
    static let roleBindings = ResourceType(group: "rbac.authorization.k8s.io", version: "v1", plural: "rolebindings", singular: "rolebinding", kind: "RoleBinding", namespaced: true)
    // Stored only (so deploy/ can be applied): no controller acts on them.
    static let services = ResourceType(group: "", version: "v1", plural: "services", singular: "service", kind: "Service", namespaced: true, shortNames: ["svc"], categories: ["all"], statusSubresource: true)
    static let cronJobs = ResourceType(group: "batch", version: "v1", plural: "cronjobs", singular: "cronjob", kind: "CronJob", namespaced: true, shortNames: ["cj"], categories: ["all"], statusSubresource: true)
    static let podDisruptionBudgets = ResourceType(group: "policy", version: "v1", plural: "poddisruptionbudgets", singular: "poddisruptionbudget", kind: "PodDisruptionBudget", namespaced: true, shortNames: ["pdb"], statusSubresource: true)
    static let networkPolicies = ResourceType(group: "networking.k8s.io", version: "v1", plural: "networkpolicies", singular: "networkpolicy", kind: "NetworkPolicy", namespaced: true, shortNames: ["netpol"])
    /// Evaluated on writes (`Admission`).
    static let validatingAdmissionPolicies = ResourceType(group: "admissionregistration.k8s.io", version: "v1", plural: "validatingadmissionpolicies", singular: "validatingadmissionpolicy", kind: "ValidatingAdmissionPolicy", namespaced: false, categories: ["api-extensions"], statusSubresource: true)
    static let validatingAdmissionPolicyBindings = ResourceType(group: "admissionregistration.k8s.io", version: "v1", plural: "validatingadmissionpolicybindings", singular: "validatingadmissionpolicybinding", kind: "ValidatingAdmissionPolicyBinding", namespaced: false, categories: ["api-extensions"])

    /// Every built-in resource, in discovery order.
    static let builtIns: [ResourceType] = [
        namespaces, pods, coreEvents, configMaps, secrets, serviceAccounts,
        deployments, replicaSets, events, leases, crds, selfSubjectReviews, roles, roleBindings,
        services, cronJobs, podDisruptionBudgets, networkPolicies, validatingAdmissionPolicies, validatingAdmissionPolicyBindings,
    ]
}
