import BatchTesting
import Testing

@Suite struct SmokeTests {
    @Test func servesDiscoveryOverHTTPSWithATokenAndRejectsAnonymousRequests() throws {
        let server = try KubeSimServer.start()
        defer { server.stop() }
        let ok = try server.curl("GET", "/api")
        #expect(ok.status == 200)
        #expect(ok.json?["kind"] as? String == "APIVersions")
        let anonymous = try server.curl("GET", "/api/v1/namespaces", user: nil)
        #expect(anonymous.status == 401)
        #expect(anonymous.json?["message"] as? String == "Unauthorized")
    }
}
