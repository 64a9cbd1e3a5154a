import FoundationEssentials
import MemberwiseInit
import Synchronization

/// What one request presents to the API server.
@MemberwiseInit(.public)
public struct Credential: Sendable, Equatable {
    /// Sent as `Authorization: Bearer …`. Never logged.
    public var bearerToken: String?
    /// PEM client certificate (chain) and key for mutual TLS.
    public var clientCertificatePEM: [UInt8]?
    public var clientKeyPEM: [UInt8]?
}

/// Produces credentials for each request and refreshes them: a static token, a token file re-read at least every
/// minute and after a 401, an exec credential plugin cached until its `expirationTimestamp` and re-run after a 401,
/// and/or a client certificate. Thread-safe; `credential()` may block (file read, plugin run), so call it off the
/// cooperative pool (the transport calls it on its own threads).
public final class CredentialProvider: Sendable, CustomStringConvertible {
    /// Where the bearer token comes from.
    public enum TokenSource: Sendable {
        case none
        case fixed(String)
        /// Re-read at least every `period`; `fallback` (a kubeconfig `token`) is used if the file cannot be read.
        case file(path: String, fallback: String?, period: Duration)
        case exec(ExecPlugin)
    }

    let token: TokenSource
    let certificate: (cert: [UInt8], key: [UInt8])?
    /// File and field path the credentials come from, for error messages.
    let source: String
    let field: String

    private struct State {
        var fileToken: (value: String, readAt: ContinuousClock.Instant)?
        var execCredential: (value: Credential, expires: Date?)?
    }
    private let state = Mutex(State())
    private let execLock = Mutex(())

    /// A provider from parts; `source` and `field` name where they were configured.
    public init(token: TokenSource, certificate: (cert: [UInt8], key: [UInt8])?, source: String = "", field: String = "") {
        self.token = token
        self.certificate = certificate
        self.source = source
        self.field = field
    }

    /// A provider that sends only `token`.
    public static func bearer(_ token: String) -> CredentialProvider {
        CredentialProvider(token: .fixed(token), certificate: nil)
    }

    /// Anonymous: nothing is sent.
    public static let anonymous = CredentialProvider(token: .none, certificate: nil)

    public var description: String {
        var parts: [String] = []
        switch token {
        case .none: break
        case .fixed: parts.append("bearer token")
        case .file(let path, _, _): parts.append("token file \(path)")
        case .exec(let plugin): parts.append("exec plugin \(plugin.command)")
        }
        if certificate != nil { parts.append("client certificate") }
        return parts.isEmpty ? "no credentials" : parts.joined(separator: " + ")
    }

    /// The credential for the next request. Blocking.
    /// - Throws: `KubeconfigError` when a token file cannot be read or an exec plugin fails.
    public func credential() throws(KubeconfigError) -> Credential {
        var out = Credential(clientCertificatePEM: certificate?.cert, clientKeyPEM: certificate?.key)
        switch token {
        case .none:
            break
        case .fixed(let t):
            out.bearerToken = t
        case .file(let path, let fallback, let period):
            let cached = state.withLock { s -> String? in
                guard let t = s.fileToken, ContinuousClock.now - t.readAt < period else { return nil }
                return t.value
            }
            if let cached {
                out.bearerToken = cached
            } else if let data = FileManager.default.contents(atPath: path) {
                let value = String(decoding: data, as: UTF8.self).trimmingWhitespace()
                state.withLock { $0.fileToken = (value, .now) }
                out.bearerToken = value
            } else if let fallback {
                out.bearerToken = fallback
            } else {
                throw KubeconfigError(file: source, field: field.isEmpty ? "" : field + ".tokenFile",
                                      message: "token file \(path) cannot be read")
            }
        case .exec(let plugin):
            // One plugin run at a time: concurrent requests wait for it and share its credential.
            out = try execLock.withLock { _ throws(KubeconfigError) -> Credential in
            let cached = state.withLock { s -> Credential? in
                guard let c = s.execCredential else { return nil }
                if let exp = c.expires, exp.timeIntervalSinceNow <= 0 { return nil }
                return c.value
            }
            if let cached {
                return merge(cached, into: out)
            } else {
                let (value, expires) = try plugin.run()
                state.withLock { $0.execCredential = (value, expires) }
                return merge(value, into: out)
            }
            }
        }
        return out
    }

    private func merge(_ c: Credential, into base: Credential) -> Credential {
        var out = base
        if let t = c.bearerToken { out.bearerToken = t }
        if let cert = c.clientCertificatePEM, let key = c.clientKeyPEM {
            out.clientCertificatePEM = cert
            out.clientKeyPEM = key
        }
        return out
    }

    /// Forgets cached tokens after a 401, so the next `credential()` re-reads the file or re-runs the plugin.
    /// - Returns: whether a retry can present anything different (false for a fixed token or certificate).
    public func invalidate() -> Bool {
        switch token {
        case .file:
            state.withLock { $0.fileToken = nil }
            return true
        case .exec:
            state.withLock { $0.execCredential = nil }
            return true
        case .none, .fixed:
            return false
        }
    }

    /// Builds the provider for a kubeconfig `user` entry, checking its fields.
    static func fromKubeconfig(user: UserEntry, file: KubeconfigFile, path: String,
                               cluster: (server: String, entry: ClusterEntry, caPEM: [UInt8]?),
                               tokenFilePeriod: Duration = .seconds(60)) throws(KubeconfigError) -> CredentialProvider {
        func fail(_ f: String, _ m: String) -> KubeconfigError { KubeconfigError(file: file.display, field: path + f, message: m) }
        if user.hasAuthProvider {
            throw fail(".auth-provider", "auth-provider plugins were removed from kubectl; use an exec credential plugin "
                + "(for GKE: gke-gcloud-auth-plugin, for AKS: kubelogin)")
        }
        if user.hasBasicAuth && user.token == nil && user.tokenFile == nil && user.exec == nil && user.clientCertificate == nil
            && user.clientCertificateData == nil {
            throw fail(".username", "basic authentication is not supported; use a token, a client certificate or an exec plugin")
        }
        // Client certificate.
        var cert: [UInt8]?
        var key: [UInt8]?
        if let d = user.clientCertificateData, !d.isEmpty {
            cert = try KubeconfigLoader.decodeBase64PEM(d, file: file.display, field: path + ".client-certificate-data", what: "CERTIFICATE")
        } else if let p = user.clientCertificate, !p.isEmpty {
            cert = try KubeconfigLoader.readPEMFile(file.resolve(p), from: file.files, file: file.display, field: path + ".client-certificate", what: "CERTIFICATE")
        }
        if let d = user.clientKeyData, !d.isEmpty {
            key = try KubeconfigLoader.decodeBase64PEM(d, file: file.display, field: path + ".client-key-data", what: "PRIVATE KEY")
        } else if let p = user.clientKey, !p.isEmpty {
            key = try KubeconfigLoader.readPEMFile(file.resolve(p), from: file.files, file: file.display, field: path + ".client-key", what: "PRIVATE KEY")
        }
        if cert != nil && key == nil {
            throw fail(".client-key", "is missing: client-certificate needs client-key or client-key-data")
        }
        if key != nil && cert == nil {
            throw fail(".client-certificate", "is missing: client-key needs client-certificate or client-certificate-data")
        }
        let certificate = cert.flatMap { c in key.map { (cert: c, key: $0) } }

        // Token.
        let token: TokenSource
        if let exec = user.exec {
            if user.token != nil || user.tokenFile != nil {
                throw fail(".exec", "cannot be combined with token or tokenFile; keep one of them")
            }
            let command: String
            if exec.command.contains("/") {
                command = file.resolve(exec.command)
            } else {
                command = exec.command
            }
            var config = exec
            config.command = command
            token = .exec(ExecPlugin(config: config, file: file.display, field: path + ".exec",
                                     cluster: ExecPlugin.ClusterInfo(server: cluster.server, caPEM: cluster.caPEM,
                                                                     insecureSkipTLSVerify: cluster.entry.insecureSkipTLSVerify,
                                                                     proxyURL: cluster.entry.proxyURL,
                                                                     tlsServerName: cluster.entry.tlsServerName)))
        } else if let tf = user.tokenFile, !tf.isEmpty {
            let resolved = file.resolve(tf)
            if user.token == nil, !file.files.isReadable(resolved) {
                throw fail(".tokenFile", "\(resolved) " + (file.files.exists(resolved)
                    ? "cannot be read (permission denied)" : "does not exist"))
            }
            token = .file(path: resolved, fallback: user.token, period: tokenFilePeriod)
        } else if let t = user.token, !t.isEmpty {
            token = .fixed(t)
        } else {
            token = .none
        }
        return CredentialProvider(token: token, certificate: certificate, source: file.display, field: path)
    }
}
