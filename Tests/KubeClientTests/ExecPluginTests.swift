import Foundation
import Testing
@testable import KubeClient

@Suite struct ExecPluginTests {
    /// A kubeconfig whose user runs `script` (written to the fixture directory, path relative to the kubeconfig).
    func setUp(_ script: String, apiVersion: String = "client.authentication.k8s.io/v1", extra: String = "") throws -> (KubeFixture, ClusterConfig) {
        let f = try KubeFixture()
        try f.write("plugin.sh", "#!/bin/sh\n" + script, mode: 0o755)
        let p = try f.write("config", kubeconfigYAML(user: """
            exec:
                  apiVersion: \(apiVersion)
                  command: ./plugin.sh
                  args: ["--cluster", "dev"]
                  env: [{name: PLUGIN_FLAVOUR, value: mint}]
                  interactiveMode: Never\(extra)
            """))
        return (f, try ClusterConfig.load(f.options(kubeconfig: p)))
    }

    /// A plugin that counts its runs and prints `tok-<run>` expiring at `expires`.
    static func countingPlugin(version: String, expires: String?) -> String {
        let exp = expires.map { ",\"expirationTimestamp\":\"\($0)\"" } ?? ""
        return """
            d=$(dirname "$0")
            echo run >> "$d/runs"
            n=$(wc -l < "$d/runs" | tr -d ' ')
            echo "$@ $PLUGIN_FLAVOUR" > "$d/seen"
            printf '{"apiVersion":"\(version)","kind":"ExecCredential","status":{"token":"tok-%s"\(exp)}}' "$n"
            """
    }

    @Test(arguments: ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"])
    func cachesTheTokenUntilInvalidated(_ version: String) throws {
        let (f, config) = try setUp(Self.countingPlugin(version: version, expires: "2099-01-01T00:00:00Z"), apiVersion: version)
        #expect(try config.credentials.credential().bearerToken == "tok-1")
        #expect(try config.credentials.credential().bearerToken == "tok-1", "cached until expirationTimestamp")
        let seen = try String(contentsOfFile: f.path + "/seen", encoding: .utf8)
        #expect(seen == "--cluster dev mint\n")
        #expect(config.credentials.invalidate())
        #expect(try config.credentials.credential().bearerToken == "tok-2", "re-run after a 401")
    }

    @Test func expiredCredentialIsRenewed() throws {
        let (f, config) = try setUp(Self.countingPlugin(version: "client.authentication.k8s.io/v1", expires: "2001-01-01T00:00:00Z"))
        #expect(try config.credentials.credential().bearerToken == "tok-1")
        #expect(try config.credentials.credential().bearerToken == "tok-2")
        withExtendedLifetime(f) {}
    }

    @Test func passesClusterInfoWhenAsked() throws {
        let (f, config) = try setUp("""
            printf '%s' "$KUBERNETES_EXEC_INFO" > "$(dirname "$0")/info"
            echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t"}}'
            """, extra: "\n      provideClusterInfo: true")
        _ = try config.credentials.credential()
        let info = try String(contentsOfFile: f.path + "/info", encoding: .utf8)
        #expect(info.contains("\"kind\":\"ExecCredential\""))
        #expect(info.contains("\"interactive\":false"))
        #expect(info.contains("\"server\":\"https:\\/\\/127.0.0.1:6443\"") || info.contains("\"server\":\"https://127.0.0.1:6443\""))
    }

    @Test func clientCertificateFromPlugin() throws {
        let (f, config) = try setUp("""
            printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientCertificateData":"-----BEGIN CERTIFICATE-----\\\\nx\\\\n-----END CERTIFICATE-----\\\\n","clientKeyData":"-----BEGIN PRIVATE KEY-----\\\\ny\\\\n-----END PRIVATE KEY-----\\\\n"}}'
            """)
        let cred = try withExtendedLifetime(f) { try config.credentials.credential() }
        #expect(cred.bearerToken == nil)
        #expect(String(decoding: cred.clientCertificatePEM ?? [], as: UTF8.self).hasPrefix("-----BEGIN CERTIFICATE-----\n"))
        #expect(cred.clientKeyPEM != nil)
    }

    /// Plugin failures name the file and field, and show the plugin's stderr.
    @Test(arguments: [
        ("echo 'error: SSO session expired, run: aws sso login' >&2\nexit 3",
         "config: users[u].user.exec: credential plugin …plugin.sh failed with exit status 3:\nerror: SSO session expired, run: aws sso login"),
        ("echo 'not json'",
         "config: users[u].user.exec: credential plugin …plugin.sh did not print an ExecCredential as JSON (output starts with \"not json\")"),
        ("echo '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"x\"}}'",
         "printed apiVersion \"client.authentication.k8s.io/v1beta1\", but the kubeconfig asks for client.authentication.k8s.io/v1"),
        ("echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{}}'",
         "printed neither status.token nor status.clientCertificateData/clientKeyData"),
        ("echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"x\",\"expirationTimestamp\":\"soon\"}}'",
         "printed an expirationTimestamp that is not RFC 3339: \"soon\""),
    ])
    func failingPlugin(_ script: String, _ expected: String) throws {
        let (f, config) = try setUp(script)
        let error = withExtendedLifetime(f) { #expect(throws: KubeconfigError.self) { try config.credentials.credential() } }
        let text = error?.description ?? ""
        var rest = Substring(text)
        for part in expected.components(separatedBy: "…") {
            let r = rest.range(of: part)
            #expect(r != nil, "missing \"\(part)\" in: \(text)")
            if let r { rest = rest[r.upperBound...] }
        }
        #expect(text.hasPrefix("~/config: users[u].user.exec: "))
        #expect(error?.kind == .badInput)
    }

    @Test func missingCommandShowsInstallHint() throws {
        let f = try KubeFixture()
        let p = try f.write("config", kubeconfigYAML(user: """
            exec:
                  apiVersion: client.authentication.k8s.io/v1
                  command: no-such-plugin-xyz
                  installHint: "install it with: brew install xyz"
            """))
        let config = try ClusterConfig.load(f.options(kubeconfig: p))
        let error = #expect(throws: KubeconfigError.self) { try config.credentials.credential() }
        #expect(error?.description == "~/config: users[u].user.exec: command \"no-such-plugin-xyz\" was not found on PATH\ninstall it with: brew install xyz")
    }
}
