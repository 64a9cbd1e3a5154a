import BatchCore
import BatchTesting
import CCurl
import Foundation
import Testing
@testable import KubeClient

/// The libcurl transport against a tiny local HTTPS server (Python's http.server + ssl, certificates from openssl).
@Suite(.serialized) struct TransportTests {
    static let fast = RetryPolicy(maxRetries: 2, initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(50))

    @Test func bearerTokenAndClientCertificateIdentifyTheUser() async throws {
        let server = try TinyKubeServer()
        let alice = KubeClient(config: try server.config(.bearer("tok-alice")))
        #expect(try await alice.whoAmI().username == "alice")

        try server.pki.issue("bob", cn: "bob")
        let cert = CredentialProvider(token: .none, certificate: (try server.pki.pem("bob.crt"), try server.pki.pem("bob.key")))
        let bob = KubeClient(config: try server.config(cert))
        #expect(try await bob.whoAmI().username == "bob")

        let stats = try await server.stats()
        #expect(stats.requests.allSatisfy { $0.userAgent == "batchctl/\(BatchctlVersion.current)" })
        #expect(stats.requests.first?.contentType == "application/json")
    }

    @Test func unauthorizedIsTyped() async throws {
        let server = try TinyKubeServer()
        let c = KubeClient(config: try server.config(.bearer("wrong")))
        let error = await #expect(throws: KubeError.self) { try await c.whoAmI() }
        #expect(error?.isUnauthorized == true)
        #expect(error?.description.contains("wrong") == false, "the token never appears in messages")
    }

    @Test func tokenFileIsReReadAfterA401() async throws {
        let server = try TinyKubeServer()
        let f = try KubeFixture()
        let tokenPath = try f.write("token", "expired-token")
        let provider = CredentialProvider(token: .file(path: tokenPath, fallback: nil, period: .seconds(60)), certificate: nil)
        #expect(try provider.credential().bearerToken == "expired-token")   // now cached for a minute
        try f.write("token", "tok-alice")
        let c = KubeClient(config: try server.config(provider))
        #expect(try await c.whoAmI().username == "alice")
        let stats = try await server.stats()
        #expect(stats.requests.count == 2, "one 401, then one retry with the re-read token")
    }

    @Test func sequentialRequestsShareOneConnection() async throws {
        let server = try TinyKubeServer()
        let c = KubeClient(config: try server.config(.bearer("tok-alice")))
        var reused = 0
        for i in 0..<100 {
            let r = try await c.transport.send(KubeRequest(method: .get, path: "/item/\(i)"))
            if !r.openedConnection { reused += 1 }
        }
        #expect(reused == 99)
        #expect(try await server.stats().connections == 1)
    }

    @Test func retryAfterIsHonoured() async throws {
        let server = try TinyKubeServer()
        let c = KubeClient(config: try server.config(.bearer("tok-alice")))
        let start = ContinuousClock.now
        let r = try await c.transport.send(KubeRequest(method: .post, path: "/throttle-once/a", body: Array("{}".utf8),
                                                       contentType: "application/json"))
        let elapsed = ContinuousClock.now - start
        #expect(r.status == 200)
        #expect(elapsed >= .milliseconds(900), "waited for Retry-After: 1 (took \(elapsed))")
        #expect(try await server.stats().requests.count == 2)
    }

    @Test func serverErrorsAreRetriedOnlyWhenSafe() async throws {
        let server = try TinyKubeServer()
        let c = KubeClient(config: try server.config(.bearer("tok-alice")), retryPolicy: Self.fast)
        let read = await #expect(throws: KubeError.self) { try await c.transport.send(KubeRequest(method: .get, path: "/fail-500/read")) }
        #expect(read?.httpCode == 500)
        let write = await #expect(throws: KubeError.self) {
            try await c.transport.send(KubeRequest(method: .post, path: "/fail-500/write", body: Array("{}".utf8)))
        }
        if case .server(let code, let status)? = write {
            #expect(code == 500)
            #expect(status.message == "boom 1")
        } else {
            Issue.record("expected .server, got \(String(describing: write))")
        }
        let guarded = await #expect(throws: KubeError.self) {
            try await c.transport.send(KubeRequest(method: .patch, path: "/fail-500/guarded", body: Array("{}".utf8), isRetryable: true))
        }
        #expect(guarded?.status?.message == "boom 3")
        let paths = try await server.stats().requests.map(\.path)
        #expect(paths.filter { $0 == "/fail-500/read" }.count == 3, "a read is retried (1 + 2 retries)")
        #expect(paths.filter { $0 == "/fail-500/write" }.count == 1, "a blind write is never resent")
        #expect(paths.filter { $0 == "/fail-500/guarded" }.count == 3, "a write with a precondition is retried")
    }

    @Test func manyConcurrentRequestsQueueForThePoolThreads() async throws {
        let server = try TinyKubeServer()
        let c = KubeClient(config: try server.config(.bearer("tok-alice")))
        let users = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<24 { group.addTask { try await c.whoAmI().username } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(users == Array(repeating: "alice", count: 24))
        let connections = try await server.stats().connections
        #expect(connections <= 4, "at most one connection per pool thread: \(connections)")
    }

    @Test func requestTimeoutIsExplained() async throws {
        let server = try TinyKubeServer()
        let c = KubeClient(config: try server.config(.bearer("tok-alice")), retryPolicy: .none, requestTimeout: .milliseconds(300))
        let error = await #expect(throws: KubeError.self) { try await c.transport.send(KubeRequest(method: .get, path: "/slow")) }
        #expect(Self.transportMessage(error, code: CURLE_OPERATION_TIMEDOUT).contains("the request timed out"))
    }

    /// The message of `error` when it is a `.transport` error with curl's `code`; records an issue and returns ""
    /// for any other error.
    static func transportMessage(_ error: KubeError?, code: CURLcode) -> String {
        guard case .transport(let curlCode, let message)? = error, curlCode == Int(code.rawValue) else {
            Issue.record("expected curl error \(code.rawValue), got \(String(describing: error))")
            return ""
        }
        return message
    }

    @Test func conflictIsTyped() async throws {
        let server = try TinyKubeServer()
        let c = KubeClient(config: try server.config(.bearer("tok-alice")))
        let error = await #expect(throws: KubeError.self) {
            try await c.transport.send(KubeRequest(method: .put, path: "/conflict", body: Array("{}".utf8)))
        }
        #expect(error?.isConflict == true)
        #expect(error?.kind == .conflict)
    }

    @Test func wrongCertificateAuthorityIsExplained() async throws {
        let server = try TinyKubeServer()
        let c = KubeClient(config: try server.config(.bearer("tok-alice"), ca: "other-ca.crt"), retryPolicy: Self.fast)
        let error = await #expect(throws: KubeError.self) { try await c.whoAmI() }
        #expect(Self.transportMessage(error, code: CURLE_PEER_FAILED_VERIFICATION).hasPrefix("127.0.0.1:\(server.port): certificate verify failed: the server's certificate is not signed by the kubeconfig's certificate-authority (test other-ca.crt)"))
    }

    @Test func connectionRefusedIsExplained() async throws {
        let port = try FreePort.next()
        let config = ClusterConfig(server: "https://127.0.0.1:\(port)", namespace: "default", source: "test", tls: TLSSettings(),
                                   credentials: .anonymous)
        let c = KubeClient(config: config, retryPolicy: Self.fast)
        let error = await #expect(throws: KubeError.self) { try await c.whoAmI() }
        #expect(error?.description.contains("cannot connect; is the API server running") == true)
    }

    /// Ending the iteration of an idle stream stops the transfer (XFERINFO checks the cancel flag about once a second).
    @Test func cancellingAnIdleStreamStopsIt() async throws {
        let server = try TinyKubeServer()
        let c = KubeClient(config: try server.config(.bearer("tok-alice")))
        let firstLine = AsyncStream<Void>.makeStream()
        let task = Task {
            var n = 0
            for try await _ in c.transport.lines(KubeRequest(method: .get, path: "/silent-stream")) {
                n += 1
                firstLine.continuation.yield()
            }
            return n
        }
        for await _ in firstLine.stream { break }
        let start = ContinuousClock.now
        #expect(c.transport.activeStreams == 1)
        task.cancel()
        _ = try? await task.value
        let stopped = Wait.until(timeout: .seconds(5), interval: .milliseconds(10)) { c.transport.activeStreams == 0 }
        let elapsed = ContinuousClock.now - start
        #expect(stopped, "the curl thread ended")
        print("idle stream: curl transfer stopped \(elapsed) after cancel")
    }
}
