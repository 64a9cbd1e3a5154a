import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// Several kubeconfig files merged by client-go's rules: for clusters, users and contexts the first file
/// that defines a name wins entirely; `current-context` comes from the first file that sets it.
struct MergedKubeconfig: Sendable {
    var files: [KubeconfigFile] = []
    var currentContext: (value: String, file: KubeconfigFile)?
    var clusters: [String: (ClusterEntry, KubeconfigFile)] = [:]
    var users: [String: (UserEntry, KubeconfigFile)] = [:]
    var contexts: [String: (ContextEntry, KubeconfigFile)] = [:]

    /// The file names for messages: one file, or `KUBECONFIG (a, b)`.
    var displaySources: String {
        files.count == 1 ? files[0].display : "KUBECONFIG (" + files.map(\.display).joined(separator: ", ") + ")"
    }

    /// Merges the next file: names it defines that earlier files did not.
    mutating func add(_ file: KubeconfigFile) {
        files.append(file)
        if currentContext == nil, let c = file.currentContext, !c.isEmpty { currentContext = (c, file) }
        for (name, v) in file.clusters where clusters[name] == nil { clusters[name] = (v, file) }
        for (name, v) in file.users where users[name] == nil { users[name] = (v, file) }
        for (name, v) in file.contexts where contexts[name] == nil { contexts[name] = (v, file) }
    }
}

enum KubeconfigLoader {
    /// Reads and merges `paths` in order. Missing files are skipped unless `explicit`.
    static func merge(paths: [String], explicit: Bool, home: String?) throws(KubeconfigError) -> MergedKubeconfig {
        var merged = MergedKubeconfig()
        var seen = Set<String>()
        for raw in paths {
            let path = absolute(raw, home: home)
            guard seen.insert(path).inserted else { continue }
            let display = KubeconfigError.display(path, home: home)
            var info = stat()
            guard stat(path, &info) == 0 else {
                if explicit {
                    throw KubeconfigError(file: display, field: "", message: "does not exist; check --kubeconfig")
                }
                continue
            }
            guard info.st_mode & S_IFMT != S_IFDIR else { throw KubeconfigError(file: display, field: "", message: "is a directory, not a kubeconfig file") }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw KubeconfigError(file: display, field: "", message: "cannot be read (permission denied); check the file's permissions")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw KubeconfigError(file: display, field: "", message: "cannot be read: it is not UTF-8 text (is it a kubeconfig?)")
            }
            merged.add(try KubeconfigParser(display: display).parse(text: text, path: path))
        }
        return merged
    }

    static func absolute(_ p: String, home: String?) -> String {
        if p.hasPrefix("/") { return p }
        if p == "~" { return home ?? p }
        if p.hasPrefix("~/"), let home { return home + p.dropFirst(1) }
        return FileManager.default.currentDirectoryPath + "/" + p
    }

    /// Picks the context (`--context` or `current-context`) and resolves its cluster and user.
    static func select(_ merged: MergedKubeconfig, options: KubeConfigOptions) throws(KubeconfigError) -> ClusterConfig {
        let sources = merged.displaySources
        let contextName: String
        if let c = options.context, !c.isEmpty {
            contextName = c
        } else if let c = merged.currentContext {
            contextName = c.value
        } else {
            let names = merged.contexts.keys.sorted()
            throw KubeconfigError(file: sources, field: "current-context", message: "is not set; pass --context"
                + (names.isEmpty ? " (the file defines no contexts)" : " (one of: \(names.joined(separator: ", ")))"))
        }
        guard let (context, ctxFile) = merged.contexts[contextName] else {
            let names = merged.contexts.keys.sorted()
            let field = options.context != nil ? "contexts" : "current-context"
            let file = options.context != nil ? sources : (merged.currentContext?.file.display ?? sources)
            let via = options.context != nil ? "--context \"\(contextName)\"" : "context \"\(contextName)\""
            throw KubeconfigError(file: file, field: field, message: "\(via) is not defined"
                + (names.isEmpty ? " (the file defines no contexts)" : "; known contexts: \(names.joined(separator: ", "))"))
        }
        let ctxPath = "contexts[\(contextName)].context"
        guard let clusterName = context.cluster, !clusterName.isEmpty else {
            throw KubeconfigError(file: ctxFile.display, field: ctxPath + ".cluster", message: "is missing; name one of the file's clusters")
        }
        guard let (cluster, clusterFile) = merged.clusters[clusterName] else {
            throw KubeconfigError(file: ctxFile.display, field: ctxPath + ".cluster",
                                  message: "names cluster \"\(clusterName)\", which is not defined in \(sources)")
        }
        var user = UserEntry()
        var userFile = ctxFile
        let userName = context.user.flatMap { $0.isEmpty ? nil : $0 }
        if let userName {
            guard let (u, f) = merged.users[userName] else {
                throw KubeconfigError(file: ctxFile.display, field: ctxPath + ".user",
                                      message: "names user \"\(userName)\", which is not defined in \(sources)")
            }
            user = u
            userFile = f
        }

        // Cluster.
        let cpath = "clusters[\(clusterName)].cluster"
        func cfail(_ field: String, _ message: String) -> KubeconfigError {
            KubeconfigError(file: clusterFile.display, field: cpath + field, message: message)
        }
        guard let server = cluster.server?.trimmingWhitespace(), !server.isEmpty else {
            throw cfail(".server", "is missing; set it to the API server URL, such as https://10.0.0.1:6443")
        }
        guard server.hasPrefix("https://") || server.hasPrefix("http://"),
              let url = URLComponents(string: server), let host = url.host, !host.isEmpty else {
            throw cfail(".server", "\"\(server)\" is not an http(s) URL such as https://10.0.0.1:6443")
        }
        var tls = TLSSettings(insecureSkipVerify: cluster.insecureSkipTLSVerify, serverName: cluster.tlsServerName)
        if let data = cluster.certificateAuthorityData, !data.isEmpty {
            tls.caPEM = try decodeBase64PEM(data, file: clusterFile.display, field: cpath + ".certificate-authority-data", what: "CERTIFICATE")
            tls.caSource = "\(clusterFile.display) \(cpath).certificate-authority-data"
        } else if let p = cluster.certificateAuthority, !p.isEmpty {
            tls.caPEM = try readPEMFile(clusterFile.resolve(p), from: clusterFile.files, file: clusterFile.display, field: cpath + ".certificate-authority", what: "CERTIFICATE")
            tls.caSource = "\(clusterFile.display) \(cpath).certificate-authority (\(p))"
        }
        if tls.insecureSkipVerify && tls.caPEM != nil {
            throw cfail(".insecure-skip-tls-verify", "cannot be combined with certificate-authority(-data): "
                + "specifying a root certificates file with the insecure flag is not allowed; remove one of them")
        }
        if tls.insecureSkipVerify {
            options.warn("\(clusterFile.display): \(cpath).insecure-skip-tls-verify is set: the API server's certificate "
                + "will not be checked, so the connection to \(server) is not protected against interception")
        }
        var proxy: String?
        if let p = cluster.proxyURL, !p.isEmpty {
            guard let comps = URLComponents(string: p), let scheme = comps.scheme?.lowercased() else {
                throw cfail(".proxy-url", "\"\(p)\" is not a URL")
            }
            switch scheme {
            case "http", "https": proxy = p
            // Go's SOCKS5 dialer resolves names at the proxy; socks5h does the same in libcurl.
            case "socks5": proxy = "socks5h" + p.dropFirst(6)
            default: throw cfail(".proxy-url", "scheme \"\(scheme)\" is not supported; use http, https or socks5")
            }
        }

        // User.
        let upath = "users[\(userName ?? "")].user"
        let credentials = try CredentialProvider.fromKubeconfig(
            user: user, file: userFile, path: upath, cluster: (server, cluster, tls.caPEM),
            tokenFilePeriod: options.tokenFileRefreshPeriod)

        let namespace = options.namespace.flatMap { $0.isEmpty ? nil : $0 }
            ?? context.namespace.flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        return ClusterConfig(server: String(server.reversed().drop { $0 == "/" }.reversed()), namespace: namespace,
                             contextName: contextName, userName: userName, source: sources, tls: tls,
                             proxyURL: proxy, credentials: credentials)
    }

    // MARK: helpers

    /// Decodes a `*-data` field: base64 of PEM text.
    static func decodeBase64PEM(_ text: String, file: String, field: String, what: String) throws(KubeconfigError) -> [UInt8] {
        let compact = text.filter { !$0.isWhitespace }
        guard let data = Data(base64Encoded: compact) else {
            throw KubeconfigError(file: file, field: field, message: "is not valid base64")
        }
        let bytes = [UInt8](data)
        try checkPEM(bytes, file: file, field: field, what: what, decoded: true)
        return bytes
    }

    /// Reads a PEM file named by a kubeconfig field.
    static func readPEMFile(_ path: String, from files: KubeconfigFileAccess = .disk, file: String, field: String,
                            what: String) throws(KubeconfigError) -> [UInt8] {
        guard let bytes = files.contents(path) else {
            let why = files.exists(path) ? "cannot be read (permission denied)" : "does not exist"
            throw KubeconfigError(file: file, field: field, message: "\(path) \(why)")
        }
        try checkPEM(bytes, file: file, field: field, what: what, decoded: false)
        return bytes
    }

    static func checkPEM(_ bytes: [UInt8], file: String, field: String, what: String, decoded: Bool) throws(KubeconfigError) {
        let text = String(decoding: bytes, as: UTF8.self)
        let ok = what == "PRIVATE KEY"
            ? text.contains("-----BEGIN") && text.contains("PRIVATE KEY-----")
            : text.contains("-----BEGIN \(what)-----")
        if !ok {
            let label = what == "PRIVATE KEY" ? "a PEM private key" : "a PEM \(what.lowercased())"
            throw KubeconfigError(file: file, field: field, message: decoded
                ? "decodes to something that is not \(label) (expected base64 of text starting with -----BEGIN)"
                : "is not \(label) (expected text starting with -----BEGIN)")
        }
    }
}
