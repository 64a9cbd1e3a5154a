import BatchCore
import MemberwiseInit
import Posix
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// Where to find cluster configuration, like kubectl's global flags.
public struct KubeConfigOptions: Sendable {
    /// `--kubeconfig`: use only this file (no merging); it must exist.
    public var kubeconfigPath: String?
    /// `--context`: overrides the kubeconfig's `current-context`.
    public var context: String?
    /// `-n/--namespace`: overrides the context's namespace.
    public var namespace: String?
    /// The environment to read `KUBECONFIG`, `HOME` and `KUBERNETES_SERVICE_HOST/PORT` from.
    public var environment: [String: String]
    /// The service-account mount used in-cluster.
    public var serviceAccountDirectory: String
    /// Where warnings go (for example "insecure-skip-tls-verify is set"). Defaults to standard error.
    public var warn: @Sendable (String) -> Void
    /// How long a `tokenFile` (or the service-account token) is cached before it is read again.
    public var tokenFileRefreshPeriod: Duration = .seconds(60)

    public init(kubeconfigPath: String? = nil, context: String? = nil, namespace: String? = nil,
                environment: [String: String] = ProcessInfo.processInfo.environment,
                serviceAccountDirectory: String = InClusterConfig.defaultServiceAccountDirectory,
                warn: @escaping @Sendable (String) -> Void = KubeConfigOptions.warnToStandardError) {
        self.kubeconfigPath = kubeconfigPath
        self.context = context
        self.namespace = namespace
        self.environment = environment
        self.serviceAccountDirectory = serviceAccountDirectory
        self.warn = warn
    }

    /// Writes `warning: <text>` to standard error.
    public static let warnToStandardError: @Sendable (String) -> Void = { text in
        StandardError.write("warning: \(text)\n")
    }
}

/// TLS settings for one cluster.
@MemberwiseInit(.public)
public struct TLSSettings: Sendable, Equatable {
    /// PEM bundle of the certificate authorities to trust; nil means the system trust store.
    public var caPEM: [UInt8]?
    /// Where the CA came from, for error messages (`~/.kube/config clusters[dev].cluster.certificate-authority-data`).
    public var caSource: String?
    /// Skip server certificate verification (kubeconfig `insecure-skip-tls-verify`).
    public var insecureSkipVerify: Bool = false
    /// Kubeconfig `tls-server-name` (recorded; see `ClusterConfig` for how it is used).
    public var serverName: String?
}

/// Everything needed to talk to one API server as one user: resolved from a kubeconfig context
/// (after `KUBECONFIG` merging) or from the in-cluster service account.
@MemberwiseInit(.public)
public struct ClusterConfig: Sendable {
    /// `https://host:port` (no trailing slash).
    public var server: String
    /// The namespace to use when a call names none: `-n`, else the context's, else the service account's, else `default`.
    public var namespace: String
    /// The kubeconfig context used; nil in-cluster.
    public var contextName: String?
    /// The kubeconfig user name (or the service account file) the credentials come from.
    public var userName: String?
    /// Where this came from, for messages: the kubeconfig file(s), or `in-cluster`.
    public var source: String
    public var tls: TLSSettings
    /// A proxy URL for libcurl (`http://`, `https://` or `socks5h://`).
    public var proxyURL: String?
    /// Produces the bearer token and/or client certificate for each request.
    public var credentials: CredentialProvider

    /// Resolves the configuration like kubectl: `--kubeconfig`, else the files in `KUBECONFIG` (merged),
    /// else `~/.kube/config`; if none of these exists and `KUBERNETES_SERVICE_HOST/PORT` are set, the in-cluster
    /// service account.
    /// - Throws: `KubeconfigError` naming the file and field at fault.
    public static func load(_ options: KubeConfigOptions = KubeConfigOptions()) throws(KubeconfigError) -> ClusterConfig {
        let env = options.environment
        let home = env["HOME"]
        if let explicit = options.kubeconfigPath {
            let merged = try KubeconfigLoader.merge(paths: [explicit], explicit: true, home: home)
            return try KubeconfigLoader.select(merged, options: options)
        }
        if let list = env["KUBECONFIG"], !list.isEmpty {
            let paths = list.split(separator: ":", omittingEmptySubsequences: true).map(String.init)
            guard !paths.isEmpty else {
                throw KubeconfigError(file: "KUBECONFIG", field: "", message: "lists no files (\"\(list)\"); "
                    + "set it to one or more kubeconfig paths separated by ':', or unset it to use ~/.kube/config")
            }
            let merged = try KubeconfigLoader.merge(paths: paths, explicit: false, home: home)
            guard !merged.files.isEmpty else {
                throw KubeconfigError(file: "KUBECONFIG", field: "", message: "none of the listed files exists ("
                    + paths.map { KubeconfigError.display($0, home: home) }.joined(separator: ", ") + ")")
            }
            return try KubeconfigLoader.select(merged, options: options)
        }
        if let home, FileManager.default.fileExists(atPath: home + "/.kube/config") {
            let merged = try KubeconfigLoader.merge(paths: [home + "/.kube/config"], explicit: true, home: home)
            return try KubeconfigLoader.select(merged, options: options)
        }
        if InClusterConfig.isInCluster(environment: env) {
            return try InClusterConfig.load(environment: env, serviceAccountDirectory: options.serviceAccountDirectory,
                                            namespaceOverride: options.namespace,
                                            tokenRefreshPeriod: options.tokenFileRefreshPeriod)
        }
        throw KubeconfigError(file: home.map { _ in "~/.kube/config" } ?? "kubeconfig", field: "",
                              message: "no cluster configuration found: the file does not exist, KUBECONFIG is not set "
                                + "and this is not a pod (KUBERNETES_SERVICE_HOST is unset); pass --kubeconfig or set KUBECONFIG")
    }

    /// Resolves a kubeconfig given as text, as `load` resolves a `--kubeconfig` file, without touching the file
    /// system or the environment.
    ///
    /// Files the kubeconfig names (`certificate-authority`, `client-certificate`, `client-key`, `tokenFile`) are
    /// looked up in `files` by absolute path (relative names resolve against `/`); any other is reported as
    /// missing. A `tokenFile` credential reads from disk when a token is requested, as with `load`.
    /// - Parameters:
    ///   - text: the kubeconfig's YAML.
    ///   - source: the name shown in errors, in place of a file path.
    ///   - options: `context`, `namespace`, `warn` and `tokenFileRefreshPeriod` apply; the rest is ignored.
    ///   - files: the files the kubeconfig may name, by absolute path.
    /// - Throws: `KubeconfigError` naming `source` and the field at fault.
    public static func parse(kubeconfig text: String, source: String = "kubeconfig",
                             options: KubeConfigOptions = KubeConfigOptions(),
                             files: [String: [UInt8]] = [:]) throws(KubeconfigError) -> ClusterConfig {
        var file = try KubeconfigParser(display: source).parse(text: text, path: "/kubeconfig")
        file.files = .memory(files)
        var merged = MergedKubeconfig()
        merged.add(file)
        return try KubeconfigLoader.select(merged, options: options)
    }
}
