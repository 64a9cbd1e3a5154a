import FoundationEssentials
import BatchCore

/// A kubeconfig exec credential plugin (`client.authentication.k8s.io/v1` or `v1beta1`), run without a terminal.
public struct ExecPlugin: Sendable {
    static let supportedVersions = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"]

    /// What `provideClusterInfo: true` passes to the plugin in `KUBERNETES_EXEC_INFO`.
    struct ClusterInfo: Sendable {
        var server: String
        var caPEM: [UInt8]?
        var insecureSkipTLSVerify: Bool
        var proxyURL: String?
        var tlsServerName: String?
    }

    let config: ExecConfig
    let file: String
    let field: String
    let cluster: ClusterInfo
    /// The longest a plugin may run.
    var timeout: Duration = .seconds(60)

    /// The command as configured (relative paths already resolved against the kubeconfig's directory).
    public var command: String { config.command }

    private func fail(_ message: String) -> KubeconfigError {
        KubeconfigError(file: file, field: field, message: message)
    }

    /// Runs the plugin and parses its `ExecCredential`. Blocking.
    func run() throws(KubeconfigError) -> (Credential, Date?) {
        if config.interactiveMode == "Always" {
            throw fail("interactiveMode is Always, but batchctl runs credential plugins without a terminal; "
                + "set interactiveMode: Never or IfAvailable")
        }
        guard let executable = resolveExecutable() else {
            var message = "command \"\(config.command)\" was not found" + (config.command.contains("/") ? "" : " on PATH")
            if let hint = config.installHint, !hint.isEmpty { message += "\n\(hint)" }
            throw fail(message)
        }
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        let tmp = base + "/batchctl-exec-\(UUID().uuidString)"
        do {
            try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        } catch {
            throw fail("cannot create a temporary directory to run the plugin: \(error)")
        }
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let outPath = tmp + "/stdout"
        let errPath = tmp + "/stderr"

        var env = ProcessInfo.processInfo.environment
        for e in config.env { env[e.name] = e.value }
        env["KUBERNETES_EXEC_INFO"] = execInfo()
        let outcome: PluginProcess.Outcome
        do {
            outcome = try PluginProcess.run(executable, arguments: config.args, environment: env,
                                            stdoutPath: outPath, stderrPath: errPath, timeout: timeout)
        } catch {
            throw fail("command \(executable) could not be started: \(error)")
        }
        if outcome == .timedOut {
            throw fail("command \(executable) did not finish within \(timeout.components.seconds)s")
        }
        let stdout = FileManager.default.contents(atPath: outPath) ?? Data()
        let stderr = String(decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self)
            .trimmingWhitespace()
        let stderrText = stderr.isEmpty ? "" : ":\n" + String(stderr.prefix(4000))
        guard outcome == .exited(0) else {
            let how: String, status: Int32
            switch outcome {
            case let .exited(code): how = "exit status \(code)"; status = code
            case let .signalled(signal): how = "signal \(signal)"; status = -1
            case .timedOut: how = "a timeout"; status = -1
            }
            var message = "credential plugin \(executable) failed with \(how)\(stderrText)"
            if let hint = config.installHint, !hint.isEmpty, status == 127 { message += "\n\(hint)" }
            throw fail(message)
        }
        return try parse(stdout, executable: executable)
    }

    private struct ExecCredentialOutput: Decodable {
        var apiVersion: String?
        var kind: String?
        var status: Status?
        struct Status: Decodable {
            var token: String?
            var clientCertificateData: String?
            var clientKeyData: String?
            var expirationTimestamp: String?
        }
    }

    func parse(_ data: Data, executable: String) throws(KubeconfigError) -> (Credential, Date?) {
        let out: ExecCredentialOutput
        do {
            out = try JSONDecoder().decode(ExecCredentialOutput.self, from: data)
        } catch {
            let head = String(decoding: data.prefix(200), as: UTF8.self)
            throw fail("credential plugin \(executable) did not print an ExecCredential as JSON "
                + "(output starts with \"\(head.trimmingWhitespace())\")")
        }
        guard out.kind == "ExecCredential" else {
            throw fail("credential plugin \(executable) printed kind \"\(out.kind ?? "")\", expected ExecCredential")
        }
        guard out.apiVersion == config.apiVersion else {
            throw fail("credential plugin \(executable) printed apiVersion \"\(out.apiVersion ?? "")\", but the kubeconfig asks for \(config.apiVersion)")
        }
        guard let status = out.status else { throw fail("credential plugin \(executable) printed no status") }
        var credential = Credential(bearerToken: status.token.flatMap { $0.isEmpty ? nil : $0 })
        if let c = status.clientCertificateData, let k = status.clientKeyData, !c.isEmpty, !k.isEmpty {
            credential.clientCertificatePEM = Array(c.utf8)
            credential.clientKeyPEM = Array(k.utf8)
        } else if (status.clientCertificateData ?? "").isEmpty != (status.clientKeyData ?? "").isEmpty {
            throw fail("credential plugin \(executable) printed only one of clientCertificateData and clientKeyData")
        }
        guard credential.bearerToken != nil || credential.clientCertificatePEM != nil else {
            throw fail("credential plugin \(executable) printed neither status.token nor status.clientCertificateData/clientKeyData")
        }
        var expires: Date?
        if let e = status.expirationTimestamp, !e.isEmpty {
            guard let t = BatchCoreTime.parse(e) else {
                throw fail("credential plugin \(executable) printed an expirationTimestamp that is not RFC 3339: \"\(e)\"")
            }
            expires = t
        }
        return (credential, expires)
    }

    /// `KUBERNETES_EXEC_INFO`: an ExecCredential with `spec.interactive` false and, when asked for, the cluster.
    private func execInfo() -> String {
        struct Info: Encodable {
            var apiVersion: String
            var kind = "ExecCredential"
            var spec: Spec
        }
        struct Spec: Encodable {
            var interactive = false
            var cluster: Cluster?
        }
        struct Cluster: Encodable {
            var server: String
            var certificateAuthorityData: String?
            var insecureSkipTLSVerify: Bool?
            var proxyURL: String?
            var tlsServerName: String?
            enum CodingKeys: String, CodingKey {
                case server
                case certificateAuthorityData = "certificate-authority-data"
                case insecureSkipTLSVerify = "insecure-skip-tls-verify"
                case proxyURL = "proxy-url"
                case tlsServerName = "tls-server-name"
            }
        }
        var spec = Spec()
        if config.provideClusterInfo {
            spec.cluster = Cluster(server: cluster.server, certificateAuthorityData: cluster.caPEM.map { Data($0).base64EncodedString() },
                                   insecureSkipTLSVerify: cluster.insecureSkipTLSVerify ? true : nil,
                                   proxyURL: cluster.proxyURL, tlsServerName: cluster.tlsServerName)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(Info(apiVersion: config.apiVersion, spec: spec)) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    private func resolveExecutable() -> String? {
        let fm = FileManager.default
        if config.command.contains("/") {
            return fm.isExecutableFile(atPath: config.command) ? config.command : nil
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") where !dir.isEmpty {
            let candidate = "\(dir)/\(config.command)"
            if fm.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}

/// RFC 3339 parsing into `Date` through BatchCore's `KubeTime`.
enum BatchCoreTime {
    static func parse(_ text: String) -> Date? {
        guard let t = KubeTime(rfc3339: text) else { return nil }
        return Date(timeIntervalSince1970: Double(t.microsecondsSinceEpoch) / 1_000_000)
    }
}
