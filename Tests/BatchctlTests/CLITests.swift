import BatchTesting
import Testing

@Suite struct VersionTests {
    @Test func versionFlagPrintsTheVersion() throws {
        let r = try Command.run(ProjectPaths.product("batchctl"), ["--version"])
        #expect(r.status == 0)
        #expect(r.stdout == "0.1.0\n")
    }
}
