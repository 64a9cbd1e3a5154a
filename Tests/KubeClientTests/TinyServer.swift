import BatchTesting
import Foundation
@testable import KubeClient

/// Test certificates made with openssl: a CA, a server certificate for 127.0.0.1, and client certificates.
final class TestPKI: @unchecked Sendable {
    let dir: TemporaryDirectory
    var path: String { dir.path }

    init() throws {
        dir = try TemporaryDirectory(prefix: "pki")
        try makeCA("ca")
        try makeCA("other-ca")
        try issue("server", cn: "127.0.0.1", ca: "ca", ext: "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }
    func pem(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: file(name)))) }

    private func openssl(_ args: [String]) throws {
        let r = try Command.run("/usr/bin/openssl", args, timeout: .seconds(30))
        guard r.status == 0 else { throw SupportError("openssl \(args.first ?? "") failed: \(r.stderr)") }
    }

    private func makeCA(_ name: String) throws {
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", file("\(name).key"), "-out", file("\(name).crt"), "-days", "2", "-subj", "/CN=\(name)"])
    }

    /// Issues `name.crt`/`name.key` for `cn`, signed by `ca`.
    func issue(_ name: String, cn: String, ca: String = "ca", ext: String = "extendedKeyUsage=clientAuth\n") throws {
        try ext.write(toFile: file("\(name).ext"), atomically: true, encoding: .utf8)
        try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", file("\(name).key"), "-out", file("\(name).csr"), "-subj", "/CN=\(cn)"])
        try openssl(["x509", "-req", "-in", file("\(name).csr"), "-CA", file("\(ca).crt"), "-CAkey", file("\(ca).key"),
                     "-CAcreateserial", "-out", file("\(name).crt"), "-days", "2", "-extfile", file("\(name).ext")])
    }
}

/// `Tests/Fixtures/tiny_kube_https.py` on a free loopback port.
final class TinyKubeServer: @unchecked Sendable {
    let pki: TestPKI
    let port: Int
    private let child: ChildProcess

    init() throws {
        pki = try TestPKI()
        port = try FreePort.next()
        child = try ChildProcess(name: "tiny-kube", executable: "/usr/bin/python3",
                                 arguments: ["\(ProjectPaths.fixtures)/tiny_kube_https.py", String(port), pki.file("server.crt"),
                                             pki.file("server.key"), pki.file("ca.crt")],
                                 logDirectory: pki.path)
        guard Wait.until(timeout: .seconds(15), { FreePort.isListening(port) }) else {
            child.stop()
            throw SupportError("tiny_kube_https.py did not start: \(child.stderr)")
        }
    }

    deinit { child.stop(grace: .seconds(2)) }

    var url: String { "https://127.0.0.1:\(port)" }

    func config(_ credentials: CredentialProvider, ca: String = "ca.crt") throws -> ClusterConfig {
        ClusterConfig(server: url, namespace: "default", source: "test",
                      tls: TLSSettings(caPEM: try pki.pem(ca), caSource: "test \(ca)"), credentials: credentials)
    }

    struct Stats: Decodable {
        var connections: Int
        var requests: [Request]
        struct Request: Decodable {
            var method: String
            var path: String
            var userAgent: String
            var contentType: String
            var body: String
        }
    }

    /// The server's counters, fetched over a separate connection (curl command line would do too).
    func stats() async throws -> Stats {
        let c = KubeClient(config: try config(.anonymous))
        let r = try await c.transport.send(KubeRequest(method: .get, path: "/stats"))
        var s = try JSONDecoder().decode(Stats.self, from: Data(r.body))
        s.connections -= 1   // this request's own connection
        s.requests.removeLast()
        return s
    }
}
