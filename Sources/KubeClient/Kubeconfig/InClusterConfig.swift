import FoundationEssentials

/// Configuration inside a pod: `KUBERNETES_SERVICE_HOST/PORT` plus the service-account mount
/// (`token`, `ca.crt`, `namespace`), as client-go's `InClusterConfig`.
public enum InClusterConfig {
    /// `/var/run/secrets/kubernetes.io/serviceaccount`.
    public static let defaultServiceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// Whether both `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT` are set.
    public static func isInCluster(environment: [String: String]) -> Bool {
        !(environment["KUBERNETES_SERVICE_HOST"] ?? "").isEmpty && !(environment["KUBERNETES_SERVICE_PORT"] ?? "").isEmpty
    }

    /// Builds the in-cluster configuration. The token is re-read at least every `tokenRefreshPeriod` and after a 401.
    /// - Throws: `KubeconfigError` naming the variable or file that is missing.
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment,
                            serviceAccountDirectory: String = defaultServiceAccountDirectory,
                            namespaceOverride: String? = nil,
                            tokenRefreshPeriod: Duration = .seconds(60)) throws(KubeconfigError) -> ClusterConfig {
        let host = environment["KUBERNETES_SERVICE_HOST"] ?? ""
        let port = environment["KUBERNETES_SERVICE_PORT"] ?? ""
        guard !host.isEmpty, !port.isEmpty else {
            throw KubeconfigError(file: "in-cluster", field: host.isEmpty ? "KUBERNETES_SERVICE_HOST" : "KUBERNETES_SERVICE_PORT",
                                  message: "is not set, so this is not running in a pod; use a kubeconfig instead")
        }
        let dir = serviceAccountDirectory
        let tokenPath = dir + "/token"
        guard FileManager.default.isReadableFile(atPath: tokenPath) else {
            throw KubeconfigError(file: tokenPath, field: "", message: FileManager.default.fileExists(atPath: tokenPath)
                ? "cannot be read (permission denied)"
                : "does not exist; is a service account token mounted (automountServiceAccountToken)?")
        }
        let caPath = dir + "/ca.crt"
        let ca = try KubeconfigLoader.readPEMFile(caPath, file: caPath, field: "", what: "CERTIFICATE")
        var namespace = "default"
        if let data = FileManager.default.contents(atPath: dir + "/namespace") {
            let ns = String(decoding: data, as: UTF8.self).trimmingWhitespace()
            if !ns.isEmpty { namespace = ns }
        }
        if let o = namespaceOverride, !o.isEmpty { namespace = o }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        let credentials = CredentialProvider(token: .file(path: tokenPath, fallback: nil, period: tokenRefreshPeriod),
                                             certificate: nil, source: tokenPath, field: "")
        return ClusterConfig(server: "https://\(hostPart):\(port)", namespace: namespace, contextName: nil,
                             userName: nil, source: "in-cluster (\(dir))",
                             tls: TLSSettings(caPEM: ca, caSource: caPath), proxyURL: nil, credentials: credentials)
    }
}
