import BatchCore
import Foundation
import Testing
@testable import KubeClient

@Suite struct KubeconfigTests {
    @Test func loadsAValidKubeconfig() throws {
        let f = try KubeFixture()
        let p = try f.write("config", kubeconfigYAML(cluster: "server: https://127.0.0.1:6443/\n    certificate-authority-data: \(KubeFixture.fakeCertData)"))
        let config = try ClusterConfig.load(f.options(kubeconfig: p))
        #expect(config.server == "https://127.0.0.1:6443")
        #expect(config.namespace == "shop")
        #expect(config.contextName == "dev")
        #expect(config.userName == "u")
        #expect(config.tls.caPEM == Array(KubeFixture.fakeCert.utf8))
        #expect(try config.credentials.credential().bearerToken == "abc")
        #expect(config.credentials.description == "bearer token")
    }

    @Test func namespaceFlagWinsThenContextThenDefault() throws {
        let f = try KubeFixture()
        let p = try f.write("config", kubeconfigYAML())
        #expect(try ClusterConfig.load(f.options(kubeconfig: p, namespace: "other")).namespace == "other")
        let q = try f.write("config2", kubeconfigYAML(context: "cluster: c\n    user: u"))
        #expect(try ClusterConfig.load(f.options(kubeconfig: q)).namespace == "default")
    }

    /// Malformed kubeconfigs: each error names the file and the field, and says what is wrong.
    @Test(arguments: [
        ("no current-context", kubeconfigYAML(current: "\"\""), nil,
         "config: current-context: is not set; pass --context (one of: dev)"),
        ("--context not found", kubeconfigYAML(), "nope",
         "config: contexts: --context \"nope\" is not defined; known contexts: dev"),
        ("current-context not found", kubeconfigYAML(current: "prod"), nil,
         "config: current-context: context \"prod\" is not defined; known contexts: dev"),
        ("unknown user", kubeconfigYAML(context: "cluster: c\n    user: bob"), nil,
         "config: contexts[dev].context.user: names user \"bob\", which is not defined in"),
        ("unknown cluster", kubeconfigYAML(context: "cluster: east\n    user: u"), nil,
         "config: contexts[dev].context.cluster: names cluster \"east\", which is not defined in"),
        ("context without cluster", kubeconfigYAML(context: "user: u"), nil,
         "config: contexts[dev].context.cluster: is missing"),
        ("bad base64 CA", kubeconfigYAML(cluster: "server: https://127.0.0.1:6443\n    certificate-authority-data: '%%%not-base64'"), nil,
         "config: clusters[c].cluster.certificate-authority-data: is not valid base64"),
        ("CA data is not PEM", kubeconfigYAML(cluster: "server: https://127.0.0.1:6443\n    certificate-authority-data: aGVsbG8="), nil,
         "config: clusters[c].cluster.certificate-authority-data: decodes to something that is not a PEM certificate"),
        ("unreadable CA file", kubeconfigYAML(cluster: "server: https://127.0.0.1:6443\n    certificate-authority: missing-ca.crt"), nil,
         "config: clusters[c].cluster.certificate-authority: /…/missing-ca.crt does not exist"),
        ("client cert without key", kubeconfigYAML(user: "client-certificate-data: \(KubeFixture.fakeCertData)"), nil,
         "config: users[u].user.client-key: is missing: client-certificate needs client-key or client-key-data"),
        ("bad base64 client key", kubeconfigYAML(user: "client-certificate-data: \(KubeFixture.fakeCertData)\n    client-key-data: 'zz!!'"), nil,
         "config: users[u].user.client-key-data: is not valid base64"),
        ("insecure with CA", kubeconfigYAML(cluster: "server: https://127.0.0.1:6443\n    insecure-skip-tls-verify: true\n    certificate-authority-data: \(KubeFixture.fakeCertData)"), nil,
         "config: clusters[c].cluster.insecure-skip-tls-verify: cannot be combined with certificate-authority(-data)"),
        ("unsupported proxy scheme", kubeconfigYAML(cluster: "server: https://127.0.0.1:6443\n    proxy-url: ftp://proxy:21"), nil,
         "config: clusters[c].cluster.proxy-url: scheme \"ftp\" is not supported; use http, https or socks5"),
        ("no server", kubeconfigYAML(cluster: "insecure-skip-tls-verify: false"), nil,
         "config: clusters[c].cluster.server: is missing"),
        ("server not a URL", kubeconfigYAML(cluster: "server: 10.0.0.1:6443"), nil,
         "config: clusters[c].cluster.server: \"10.0.0.1:6443\" is not an http(s) URL"),
        ("token file missing", kubeconfigYAML(user: "tokenFile: /nonexistent/token"), nil,
         "config: users[u].user.tokenFile: /nonexistent/token does not exist"),
        ("exec without apiVersion", kubeconfigYAML(user: "exec:\n      command: get-token"), nil,
         "config: users[u].user.exec.apiVersion: is missing"),
        ("exec alpha apiVersion", kubeconfigYAML(user: "exec:\n      apiVersion: client.authentication.k8s.io/v1alpha1\n      command: x"), nil,
         "config: users[u].user.exec.apiVersion: \"client.authentication.k8s.io/v1alpha1\" is not supported"),
        ("auth-provider", kubeconfigYAML(user: "auth-provider:\n      name: gcp"), nil,
         "config: users[u].user.auth-provider: auth-provider plugins were removed from kubectl"),
        ("clusters not a list", "clusters: {c: 1}\n", nil,
         "config: clusters: must be a list, not a mapping"),
        ("entry without name", "clusters:\n- cluster: {server: https://x}\n", nil,
         "config: clusters[0].name: is missing"),
        ("bad boolean", kubeconfigYAML(cluster: "server: https://127.0.0.1:6443\n    insecure-skip-tls-verify: maybe"), nil,
         "config: clusters[c].cluster.insecure-skip-tls-verify: must be true or false, not \"maybe\""),
        ("not YAML", "clusters: [\n", nil, "config: is not valid YAML: "),
        ("not YAML, token not echoed", "users:\n- name: u\n  user: {token: s3cr3t: x}\n", nil, "config: is not valid YAML: …at line 3"),
        ("wrong kind", "kind: Pod\n", nil, "config: kind: is \"Pod\"; a kubeconfig has kind: Config"),
    ] as [(String, String, String?, String)])
    func malformedKubeconfig(_ name: String, _ yaml: String, _ context: String?, _ expected: String) throws {
        let f = try KubeFixture()
        let p = try f.write("config", yaml)
        let error = #expect(throws: KubeconfigError.self, "\(name)") {
            try ClusterConfig.load(f.options(kubeconfig: p, context: context))
        }
        // "…" in the expectation stands for any text.
        let text = error?.description ?? ""
        var rest = Substring(text)
        var matched = true
        for part in expected.components(separatedBy: "…") {
            guard let r = rest.range(of: part) else { matched = false; break }
            rest = rest[r.upperBound...]
        }
        #expect(text.hasPrefix("~/"), "\(name): file shown relative to home")
        #expect(matched, "\(name): \(text)")
        #expect(!text.contains("s3cr3t"), "\(name): no secrets in messages")
        #expect(error?.kind == .badInput)
    }

    /// `ClusterConfig.parse(kubeconfig:)` (what `make fuzz` drives): the same resolution as `load`, with the files
    /// a kubeconfig names looked up only in the given set, never on disk.
    @Test func parsesAKubeconfigGivenAsText() throws {
        let yaml = kubeconfigYAML(cluster: "server: https://127.0.0.1:6443/\n    certificate-authority: ca.crt")
        let config = try ClusterConfig.parse(kubeconfig: yaml, source: "inline", options: KubeConfigOptions(environment: [:]),
                                             files: ["/ca.crt": Array(KubeFixture.fakeCert.utf8)])
        #expect(config.server == "https://127.0.0.1:6443")
        #expect(config.namespace == "shop")
        #expect(config.tls.caPEM == Array(KubeFixture.fakeCert.utf8))
        #expect(config.tls.caSource == "inline clusters[c].cluster.certificate-authority (ca.crt)")
        #expect(try config.credentials.credential().bearerToken == "abc")
    }

    @Test func kubeconfigGivenAsTextNeverReadsTheFileSystem() throws {
        let onDisk = "/proc/self/status"   // exists and is readable, but is not in `files`
        #expect(FileManager.default.isReadableFile(atPath: onDisk))
        let ca = #expect(throws: KubeconfigError.self) {
            try ClusterConfig.parse(kubeconfig: kubeconfigYAML(cluster: "server: https://x:6443\n    certificate-authority: \(onDisk)"),
                                    source: "inline")
        }
        #expect(ca?.description == "inline: clusters[c].cluster.certificate-authority: \(onDisk) does not exist")
        let token = #expect(throws: KubeconfigError.self) {
            try ClusterConfig.parse(kubeconfig: kubeconfigYAML(user: "tokenFile: \(onDisk)"), source: "inline")
        }
        #expect(token?.description == "inline: users[u].user.tokenFile: \(onDisk) does not exist")
        let yaml = #expect(throws: KubeconfigError.self) { try ClusterConfig.parse(kubeconfig: "clusters: [\n", source: "inline") }
        #expect(yaml?.description.hasPrefix("inline: is not valid YAML: ") == true)
    }

    @Test func explicitKubeconfigMustExist() throws {
        let f = try KubeFixture()
        let error = #expect(throws: KubeconfigError.self) { try ClusterConfig.load(f.options(kubeconfig: f.path + "/nope")) }
        #expect(error?.description == "~/nope: does not exist; check --kubeconfig")
    }

    @Test func kubeconfigThatIsADirectory() throws {
        let f = try KubeFixture()
        try FileManager.default.createDirectory(atPath: f.path + "/cfgdir", withIntermediateDirectories: true)
        let error = #expect(throws: KubeconfigError.self) { try ClusterConfig.load(f.options(kubeconfig: f.path + "/cfgdir")) }
        #expect(error?.description == "~/cfgdir: is a directory, not a kubeconfig file")
    }

    @Test func kubeconfigThatIsNotText() throws {
        let f = try KubeFixture()
        let p = f.path + "/config"
        try Data([0xFF, 0xFE, 0x00, 0x81]).write(to: URL(fileURLWithPath: p))
        let error = #expect(throws: KubeconfigError.self) { try ClusterConfig.load(f.options(kubeconfig: p)) }
        #expect(error?.description == "~/config: cannot be read: it is not UTF-8 text (is it a kubeconfig?)")
    }

    @Test func emptyKubeconfigList() throws {
        let f = try KubeFixture()
        let error = #expect(throws: KubeconfigError.self) { try ClusterConfig.load(f.options(env: ["KUBECONFIG": ":"])) }
        #expect(error?.description.hasPrefix("KUBECONFIG: lists no files") == true)
        let error2 = #expect(throws: KubeconfigError.self) {
            try ClusterConfig.load(f.options(env: ["KUBECONFIG": "\(f.path)/a:\(f.path)/b"]))
        }
        #expect(error2?.description == "KUBECONFIG: none of the listed files exists (~/a, ~/b)")
    }

    @Test func noConfigurationAnywhere() throws {
        let f = try KubeFixture()
        let error = #expect(throws: KubeconfigError.self) { try ClusterConfig.load(f.options()) }
        #expect(error?.description.contains("no cluster configuration found") == true)
    }

    @Test func insecureSkipVerifyWarns() throws {
        let f = try KubeFixture()
        let p = try f.write("config", kubeconfigYAML(cluster: "server: https://127.0.0.1:6443\n    insecure-skip-tls-verify: true"))
        let warnings = WarningSink()
        let config = try ClusterConfig.load(f.options(kubeconfig: p, warnings: warnings))
        #expect(config.tls.insecureSkipVerify)
        #expect(warnings.all.count == 1)
        #expect(warnings.all.first?.contains("clusters[c].cluster.insecure-skip-tls-verify is set") == true)
    }

    @Test func socks5ProxyResolvesNamesAtTheProxy() throws {
        let f = try KubeFixture()
        let p = try f.write("config", kubeconfigYAML(cluster: "server: https://127.0.0.1:6443\n    proxy-url: socks5://127.0.0.1:1080"))
        #expect(try ClusterConfig.load(f.options(kubeconfig: p)).proxyURL == "socks5h://127.0.0.1:1080")
    }

    @Test func relativePathsResolveAgainstTheKubeconfigDirectory() throws {
        let f = try KubeFixture()
        try f.write("sub/ca.crt", KubeFixture.fakeCert)
        try f.write("sub/client.crt", KubeFixture.fakeCert)
        try f.write("sub/client.key", KubeFixture.fakeKey)
        let p = try f.write("sub/config", kubeconfigYAML(
            cluster: "server: https://127.0.0.1:6443\n    certificate-authority: ca.crt",
            user: "client-certificate: client.crt\n    client-key: client.key"))
        let config = try ClusterConfig.load(f.options(kubeconfig: p))
        #expect(config.tls.caPEM == Array(KubeFixture.fakeCert.utf8))
        let cred = try config.credentials.credential()
        #expect(cred.clientKeyPEM == Array(KubeFixture.fakeKey.utf8))
        #expect(cred.bearerToken == nil)
        #expect(config.credentials.description == "client certificate")
    }

    /// client-go merge rules: the first file defining a name wins entirely; current-context from the first file that sets it.
    @Test func kubeconfigListMergesFirstWins() throws {
        let f = try KubeFixture()
        let a = try f.write("a", """
            current-context: one
            clusters:
            - name: c
              cluster: {server: "https://127.0.0.1:1111"}
            users:
            - name: u
              user: {token: from-a}
            contexts:
            - name: one
              context: {cluster: c, user: u, namespace: ns-a}
            """)
        let b = try f.write("b", """
            current-context: two
            clusters:
            - name: c
              cluster: {server: "https://127.0.0.1:2222", insecure-skip-tls-verify: true}
            - name: d
              cluster: {server: "https://127.0.0.1:3333"}
            users:
            - name: u
              user: {token: from-b}
            - name: w
              user: {token: from-w}
            contexts:
            - name: one
              context: {cluster: d, user: w}
            - name: two
              context: {cluster: d, user: w, namespace: ns-b}
            """)
        let env = ["KUBECONFIG": "\(a):\(f.path)/missing:\(b)"]
        let first = try ClusterConfig.load(f.options(env: env))
        #expect(first.contextName == "one")
        #expect(first.server == "https://127.0.0.1:1111")
        #expect(first.tls.insecureSkipVerify == false, "cluster c comes from a entirely, not field by field")
        #expect(first.namespace == "ns-a")
        #expect(try first.credentials.credential().bearerToken == "from-a")
        #expect(first.source == "KUBECONFIG (~/a, ~/b)")
        let second = try ClusterConfig.load(f.options(context: "two", env: env))
        #expect(second.server == "https://127.0.0.1:3333")
        #expect(try second.credentials.credential().bearerToken == "from-w")
        #expect(second.namespace == "ns-b")
        // The reversed order flips every winner.
        let flipped = try ClusterConfig.load(f.options(env: ["KUBECONFIG": "\(b):\(a)"]))
        #expect(flipped.contextName == "two")
        let one = try ClusterConfig.load(f.options(context: "one", env: ["KUBECONFIG": "\(b):\(a)"]))
        #expect(one.server == "https://127.0.0.1:3333")
    }

    @Test func defaultKubeconfigInHome() throws {
        let f = try KubeFixture()
        try f.write(".kube/config", kubeconfigYAML())
        let config = try ClusterConfig.load(f.options())
        #expect(config.source == "~/.kube/config")
    }

    @Test func errorsNeverContainTheToken() throws {
        let f = try KubeFixture()
        let p = try f.write("config", kubeconfigYAML(user: "token: s3cr3t-token\n    client-certificate-data: \(KubeFixture.fakeCertData)"))
        let error = #expect(throws: KubeconfigError.self) { try ClusterConfig.load(f.options(kubeconfig: p)) }
        #expect(error?.description.contains("s3cr3t") == false)
    }
}

@Suite struct InClusterTests {
    func mount(_ f: KubeFixture, namespace: String? = "court-listener") throws {
        try f.write("serviceaccount/token", "token-1\n")
        try f.write("serviceaccount/ca.crt", KubeFixture.fakeCert)
        if let namespace { try f.write("serviceaccount/namespace", namespace) }
    }

    @Test func usesServiceAccountWhenNoKubeconfig() throws {
        let f = try KubeFixture()
        try mount(f)
        let config = try ClusterConfig.load(f.options(env: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"]))
        #expect(config.server == "https://10.96.0.1:443")
        #expect(config.namespace == "court-listener")
        #expect(config.tls.caPEM == Array(KubeFixture.fakeCert.utf8))
        #expect(try config.credentials.credential().bearerToken == "token-1")
        #expect(config.contextName == nil)
    }

    @Test func bracketsIPv6AndDefaultsNamespace() throws {
        let f = try KubeFixture()
        try mount(f, namespace: nil)
        let config = try InClusterConfig.load(environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"],
                                              serviceAccountDirectory: f.path + "/serviceaccount")
        #expect(config.server == "https://[fd00::1]:6443")
        #expect(config.namespace == "default")
    }

    @Test func missingTokenIsExplained() throws {
        let f = try KubeFixture()
        let error = #expect(throws: KubeconfigError.self) {
            try InClusterConfig.load(environment: ["KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"],
                                     serviceAccountDirectory: f.path + "/serviceaccount")
        }
        #expect(error?.description.contains("serviceaccount/token: does not exist; is a service account token mounted") == true)
    }

    @Test func notInCluster() throws {
        let error = #expect(throws: KubeconfigError.self) { try InClusterConfig.load(environment: [:]) }
        #expect(error?.description == "in-cluster: KUBERNETES_SERVICE_HOST: is not set, so this is not running in a pod; use a kubeconfig instead")
    }

    @Test func tokenIsCachedThenReReadAfterThePeriodOrAnInvalidation() throws {
        let f = try KubeFixture()
        try mount(f)
        let config = try InClusterConfig.load(environment: ["KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"],
                                              serviceAccountDirectory: f.path + "/serviceaccount", tokenRefreshPeriod: .milliseconds(300))
        #expect(try config.credentials.credential().bearerToken == "token-1")
        try f.write("serviceaccount/token", "token-2")
        #expect(try config.credentials.credential().bearerToken == "token-1", "cached within the period")
        #expect(config.credentials.invalidate())
        #expect(try config.credentials.credential().bearerToken == "token-2", "re-read after a 401")
        try f.write("serviceaccount/token", "token-3")
        usleep(400_000)   // the behaviour under test is time passing: the 300 ms refresh period must elapse
        #expect(try config.credentials.credential().bearerToken == "token-3", "re-read after the period")
    }
}
