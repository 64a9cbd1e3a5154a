import BatchTesting
import Testing

@Suite struct VersionTests {
    @Test func versionFlagPrintsTheVersion() throws {
        let r = try Command.run(ProjectPaths.product("batchctl"), ["--version"])
        #expect(r.status == 0)
        #expect(r.stdout == "0.1.0\n")
    }
}

@Suite struct CompletionScriptTests {
    @Test(arguments: ["bash", "zsh", "fish"])
    func completionScriptsNameTheCommands(shell: String) throws {
        let r = try Command.run(ProjectPaths.product("batchctl"), ["--generate-completion-script", shell])
        #expect(r.status == 0, "\(r.stderr)")
        for command in ["status", "claim", "scale", "extend", "release", "describe"] {
            #expect(r.stdout.contains(command), "\(shell) script lacks \(command)")
        }
        #expect(r.stdout.contains("approve-band"))
    }
}
