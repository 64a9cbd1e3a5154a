import BatchTesting
import Foundation
@testable import KubeClient

/// A temp directory holding kubeconfig files, PEM files and scripts for one test.
final class KubeFixture: @unchecked Sendable {
    let dir: TemporaryDirectory
    var path: String { dir.path }

    init() throws { dir = try TemporaryDirectory(prefix: "kubecfg") }

    static let fakeCert = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
    static let fakeKey = "-----BEGIN EC PRIVATE KEY-----\nMHcfake\n-----END EC PRIVATE KEY-----\n"
    static var fakeCertData: String { Data(fakeCert.utf8).base64EncodedString() }
    static var fakeKeyData: String { Data(fakeKey.utf8).base64EncodedString() }

    /// Writes `text` (with `$DIR` replaced by the directory) to `name`; returns the absolute path.
    @discardableResult
    func write(_ name: String, _ text: String, mode: Int = 0o644) throws -> String {
        let p = "\(path)/\(name)"
        let parent = (p as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        try text.replacingOccurrences(of: "$DIR", with: path).write(toFile: p, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: p)
        return p
    }

    /// Options reading only `kubeconfig` (explicit path) with HOME pointing here; warnings collected.
    func options(kubeconfig: String? = nil, context: String? = nil, namespace: String? = nil, env: [String: String] = [:],
                 warnings: WarningSink = WarningSink()) -> KubeConfigOptions {
        var environment = ["HOME": path, "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
        for (k, v) in env { environment[k] = v }
        return KubeConfigOptions(kubeconfigPath: kubeconfig, context: context, namespace: namespace, environment: environment,
                                 serviceAccountDirectory: path + "/serviceaccount", warn: { warnings.append($0) })
    }
}

/// Collects warnings.
final class WarningSink: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func append(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
}

/// A small valid kubeconfig: cluster `c`, user `u`, context `dev` (namespace shop), with substitutions.
func kubeconfigYAML(cluster: String = "server: https://127.0.0.1:6443", user: String = "token: abc",
                    context: String = "cluster: c\n    user: u\n    namespace: shop", current: String = "dev") -> String {
    """
    apiVersion: v1
    kind: Config
    current-context: \(current)
    clusters:
    - name: c
      cluster:
        \(cluster)
    users:
    - name: u
      user:
        \(user)
    contexts:
    - name: dev
      context:
        \(context)
    """
}
