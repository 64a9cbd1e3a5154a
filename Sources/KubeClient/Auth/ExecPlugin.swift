import Foundation
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
        let tmp = NSTemporaryDirectory() + "batchctl-exec-\(UUID().uuidString)"
        do {
            try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        } catch {
            throw fail("cannot create a temporary directory to run the plugin: \(error)")
        }
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let outPath = tmp + "/stdout"
        let errPath = tmp + "/stderr"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = config.args
        var env = ProcessInfo.processInfo.environment
        for e in config.env { env[e.name] = e.value }
        env["KUBERNETES_EXEC_INFO"] = execInfo()
        process.environment = env
        process.standardInput = FileHandle.nullDevice
        do {
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
            try process.run()
        } catch {
            throw fail("command \(executable) could not be started: \(error)")
        }
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { usleep(5_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            throw fail("command \(executable) did not finish within \(timeout.components.seconds)s")
        }
        process.waitUntilExit()
        let stdout = FileManager.default.contents(atPath: outPath) ?? Data()
        let stderr = String(decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let stderrText = stderr.isEmpty ? "" : ":\n" + String(stderr.prefix(4000))
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let how = process.terminationReason == .exit ? "exit status \(process.terminationStatus)" : "signal \(process.terminationStatus)"
            var message = "credential plugin \(executable) failed with \(how)\(stderrText)"
            if let hint = config.installHint, !hint.isEmpty, process.terminationStatus == 127 { message += "\n\(hint)" }
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
                + "(output starts with \"\(head.trimmingCharacters(in: .whitespacesAndNewlines))\")")
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

    private func execInfo() -> String {
        var spec: [String: Any] = ["interactive": false]
        if config.provideClusterInfo {
            var c: [String: Any] = ["server": cluster.server]
            if let ca = cluster.caPEM { c["certificate-authority-data"] = Data(ca).base64EncodedString() }
            if cluster.insecureSkipTLSVerify { c["insecure-skip-tls-verify"] = true }
            if let p = cluster.proxyURL { c["proxy-url"] = p }
            if let n = cluster.tlsServerName { c["tls-server-name"] = n }
            spec["cluster"] = c
        }
        let object: [String: Any] = ["apiVersion": config.apiVersion, "kind": "ExecCredential", "spec": spec]
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "{}" }
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
