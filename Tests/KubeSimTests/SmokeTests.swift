import BatchTesting
import Testing

@Suite struct SmokeTests {
    @Test func servesDiscoveryOverHTTPSWithATokenAndRejectsAnonymousRequests() throws {
        let server = try KubeSimServer.start()
        defer { server.stop() }
        let ok = try server.curl("GET", "/api")
        #expect(ok.status == 200)
        struct Status: Decodable { var kind: String?; var message: String? }
        #expect(ok.decoded(Status.self)?.kind == "APIVersions")
        let anonymous = try server.curl("GET", "/api/v1/namespaces", user: nil)
        #expect(anonymous.status == 401)
        #expect(anonymous.decoded(Status.self)?.message == "Unauthorized")
    }
}
