import FoundationEssentials
import YAML

/// One kubeconfig file as written, before merging. Field names follow client-go `clientcmd/api/v1`.
struct KubeconfigFile: Sendable {
    /// The absolute path it was read from.
    var path: String
    /// The path as shown in messages (`~/.kube/config`).
    var display: String
    var currentContext: String?
    var clusters: [(name: String, value: ClusterEntry)] = []
    var users: [(name: String, value: UserEntry)] = []
    var contexts: [(name: String, value: ContextEntry)] = []
    /// Where the files this one names (CA, client certificate and key, token file) are read from.
    var files: KubeconfigFileAccess = .disk

    /// The directory relative paths in this file are resolved against.
    var directory: String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    func resolve(_ p: String) -> String {
        if p.hasPrefix("/") { return p }
        if p.hasPrefix("~/"), case .disk = files, let home = ProcessInfo.processInfo.environment["HOME"] { return home + p.dropFirst(1) }
        return directory == "/" ? "/" + p : directory + "/" + p
    }
}

/// How the files a kubeconfig names are read: from disk, or, for a kubeconfig given as text
/// (`ClusterConfig.parse(kubeconfig:)`), from a fixed set of in-memory files and nothing else.
enum KubeconfigFileAccess: Sendable {
    case disk
    case memory([String: [UInt8]])

    /// The file's bytes, nil if it does not exist or cannot be read.
    func contents(_ path: String) -> [UInt8]? {
        switch self {
        case .disk: FileManager.default.contents(atPath: path).map { [UInt8]($0) }
        case .memory(let files): files[path]
        }
    }

    func exists(_ path: String) -> Bool {
        switch self {
        case .disk: FileManager.default.fileExists(atPath: path)
        case .memory(let files): files[path] != nil
        }
    }

    func isReadable(_ path: String) -> Bool {
        switch self {
        case .disk: FileManager.default.isReadableFile(atPath: path)
        case .memory(let files): files[path] != nil
        }
    }
}

struct ClusterEntry: Sendable {
    var server: String?
    var certificateAuthority: String?
    var certificateAuthorityData: String?
    var insecureSkipTLSVerify = false
    var tlsServerName: String?
    var proxyURL: String?
}

struct UserEntry: Sendable {
    var token: String?
    var tokenFile: String?
    var clientCertificate: String?
    var clientCertificateData: String?
    var clientKey: String?
    var clientKeyData: String?
    var exec: ExecConfig?
    var hasAuthProvider = false
    var hasBasicAuth = false
}

struct ContextEntry: Sendable {
    var cluster: String?
    var user: String?
    var namespace: String?
}

/// `users[].user.exec`.
struct ExecConfig: Sendable {
    var apiVersion: String
    var command: String
    var args: [String] = []
    var env: [(name: String, value: String)] = []
    var interactiveMode: String?
    var provideClusterInfo = false
    var installHint: String?
}

/// Reads YAML nodes into the kubeconfig model, throwing at the first problem with its field path.
struct KubeconfigParser {
    let display: String

    func fail(_ field: String, _ message: String) -> KubeconfigError {
        KubeconfigError(file: display, field: field, message: message)
    }

    func parse(text: String, path: String) throws(KubeconfigError) -> KubeconfigFile {
        var file = KubeconfigFile(path: path, display: display)
        let root: Node?
        do {
            root = try YAMLComposer.compose(text)
        } catch {
            throw fail("", "is not valid YAML: \(error)")
        }
        guard let root, !isNull(root) else { return file }   // an empty file is an empty config, as in client-go
        let top = try mapping(root, "")
        if let kind = top["kind"], let k = try string(kind, "kind"), k != "Config" {
            throw fail("kind", "is \"\(k)\"; a kubeconfig has kind: Config")
        }
        if let n = top["current-context"] { file.currentContext = try string(n, "current-context") }
        if let n = top["clusters"] {
            for (i, item) in try namedList(n, "clusters", inner: "cluster") {
                file.clusters.append((i.name, try cluster(item, "clusters[\(i.name)].cluster")))
            }
        }
        if let n = top["users"] {
            for (i, item) in try namedList(n, "users", inner: "user") {
                file.users.append((i.name, try user(item, "users[\(i.name)].user")))
            }
        }
        if let n = top["contexts"] {
            for (i, item) in try namedList(n, "contexts", inner: "context") {
                file.contexts.append((i.name, try context(item, "contexts[\(i.name)].context")))
            }
        }
        return file
    }

    // MARK: sections

    func cluster(_ node: Node?, _ path: String) throws(KubeconfigError) -> ClusterEntry {
        var c = ClusterEntry()
        guard let node, !isNull(node) else { return c }
        let m = try mapping(node, path)
        if let n = m["server"] { c.server = try string(n, path + ".server") }
        if let n = m["certificate-authority"] { c.certificateAuthority = try string(n, path + ".certificate-authority") }
        if let n = m["certificate-authority-data"] { c.certificateAuthorityData = try string(n, path + ".certificate-authority-data") }
        if let n = m["insecure-skip-tls-verify"] { c.insecureSkipTLSVerify = try bool(n, path + ".insecure-skip-tls-verify") }
        if let n = m["tls-server-name"] { c.tlsServerName = try string(n, path + ".tls-server-name") }
        if let n = m["proxy-url"] { c.proxyURL = try string(n, path + ".proxy-url") }
        return c
    }

    func user(_ node: Node?, _ path: String) throws(KubeconfigError) -> UserEntry {
        var u = UserEntry()
        guard let node, !isNull(node) else { return u }
        let m = try mapping(node, path)
        if let n = m["token"] { u.token = try string(n, path + ".token") }
        if let n = m["tokenFile"] { u.tokenFile = try string(n, path + ".tokenFile") }
        if let n = m["client-certificate"] { u.clientCertificate = try string(n, path + ".client-certificate") }
        if let n = m["client-certificate-data"] { u.clientCertificateData = try string(n, path + ".client-certificate-data") }
        if let n = m["client-key"] { u.clientKey = try string(n, path + ".client-key") }
        if let n = m["client-key-data"] { u.clientKeyData = try string(n, path + ".client-key-data") }
        if let n = m["auth-provider"], !isNull(n) { u.hasAuthProvider = true }
        if m["username"] != nil || m["password"] != nil { u.hasBasicAuth = true }
        if let n = m["exec"], !isNull(n) { u.exec = try exec(n, path + ".exec") }
        return u
    }

    func exec(_ node: Node, _ path: String) throws(KubeconfigError) -> ExecConfig {
        let m = try mapping(node, path)
        guard let v = m["apiVersion"], let apiVersion = try string(v, path + ".apiVersion"), !apiVersion.isEmpty else {
            throw fail(path + ".apiVersion", "is missing; use client.authentication.k8s.io/v1")
        }
        guard ExecPlugin.supportedVersions.contains(apiVersion) else {
            throw fail(path + ".apiVersion", "\"\(apiVersion)\" is not supported; use client.authentication.k8s.io/v1 or v1beta1")
        }
        guard let c = m["command"], let command = try string(c, path + ".command"), !command.isEmpty else {
            throw fail(path + ".command", "is missing; name the credential plugin to run")
        }
        var e = ExecConfig(apiVersion: apiVersion, command: command)
        if let n = m["args"], !isNull(n) {
            for (i, a) in try sequence(n, path + ".args").enumerated() {
                e.args.append(try string(a, path + ".args[\(i)]") ?? "")
            }
        }
        if let n = m["env"], !isNull(n) {
            for (i, item) in try sequence(n, path + ".env").enumerated() {
                let em = try mapping(item, path + ".env[\(i)]")
                guard let nn = em["name"], let name = try string(nn, path + ".env[\(i)].name"), !name.isEmpty else {
                    throw fail(path + ".env[\(i)].name", "is missing")
                }
                let value = try em["value"].flatMap { n throws(KubeconfigError) in try string(n, path + ".env[\(i)].value") } ?? ""
                e.env.append((name, value))
            }
        }
        if let n = m["interactiveMode"] {
            let mode = try string(n, path + ".interactiveMode")
            if let mode, !["Never", "IfAvailable", "Always", ""].contains(mode) {
                throw fail(path + ".interactiveMode", "\"\(mode)\" is not one of Never, IfAvailable, Always")
            }
            e.interactiveMode = mode
        }
        if let n = m["provideClusterInfo"] { e.provideClusterInfo = try bool(n, path + ".provideClusterInfo") }
        if let n = m["installHint"] { e.installHint = try string(n, path + ".installHint") }
        return e
    }

    func context(_ node: Node?, _ path: String) throws(KubeconfigError) -> ContextEntry {
        var c = ContextEntry()
        guard let node, !isNull(node) else { return c }
        let m = try mapping(node, path)
        if let n = m["cluster"] { c.cluster = try string(n, path + ".cluster") }
        if let n = m["user"] { c.user = try string(n, path + ".user") }
        if let n = m["namespace"] { c.namespace = try string(n, path + ".namespace") }
        return c
    }

    /// `clusters:`, `users:`, `contexts:`: lists of `{name, <inner>}`.
    func namedList(_ node: Node, _ path: String, inner: String) throws(KubeconfigError) -> [(item: (name: String, index: Int), value: Node?)] {
        if isNull(node) { return [] }
        var out: [(item: (name: String, index: Int), value: Node?)] = []
        var seen = Set<String>()
        for (i, entry) in try sequence(node, path).enumerated() {
            let m = try mapping(entry, "\(path)[\(i)]")
            guard let n = m["name"], let name = try string(n, "\(path)[\(i)].name"), !name.isEmpty else {
                throw fail("\(path)[\(i)].name", "is missing; every entry of \(path) needs a name")
            }
            // Within one file, client-go keeps the first entry of a name too.
            guard seen.insert(name).inserted else { continue }
            out.append(((name, i), m[inner]))
        }
        return out
    }

    // MARK: scalars

    func isNull(_ node: Node) -> Bool { node.isNull }

    func mapping(_ node: Node, _ path: String) throws(KubeconfigError) -> [String: Node] {
        guard case let .mapping(m) = node else {
            throw fail(path, "must be a mapping, not \(describe(node))")
        }
        var out: [String: Node] = [:]
        for (k, v) in m {
            guard case let .scalar(ks) = k else { throw fail(path, "has a key that is not a string") }
            out[ks.string] = v
        }
        return out
    }

    func sequence(_ node: Node, _ path: String) throws(KubeconfigError) -> [Node] {
        guard case let .sequence(s) = node else { throw fail(path, "must be a list, not \(describe(node))") }
        return Array(s)
    }

    func string(_ node: Node, _ path: String) throws(KubeconfigError) -> String? {
        if isNull(node) { return nil }
        guard case let .scalar(s) = node else { throw fail(path, "must be a string, not \(describe(node))") }
        return s.string
    }

    func bool(_ node: Node, _ path: String) throws(KubeconfigError) -> Bool {
        guard let s = try string(node, path) else { return false }
        switch s {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: throw fail(path, "must be true or false, not \"\(s)\"")
        }
    }

    func describe(_ node: Node) -> String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .scalar: "a string"
        }
    }
}
