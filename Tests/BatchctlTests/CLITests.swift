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

@Suite struct ControllerFlagTests {
    @Test(arguments: [
        (["--leader-elect-lease-duration", "2s", "--leader-elect-renew-deadline", "3s"],
         "Error: --leader-elect-lease-duration must be longer than --leader-elect-renew-deadline (they are 2s, 3s and 2s, as client-go requires)"),
        (["--leader-elect-retry-period", "5x"],
         #"Error: The value '5x' is invalid for '--leader-elect-retry-period <duration>': "5x" has an unknown unit "x"; use ms, s, m, h, d or w"#),
        (["--leader-elect-lease-duration", "500ms", "--leader-elect-renew-deadline", "300ms", "--leader-elect-retry-period", "100ms"],
         "Error: --leader-elect-lease-duration 500ms is under 1s; the Lease stores whole seconds, so write 1s or more"),
    ])
    func badLeaseTimingsAreRefusedBeforeStarting(arguments: [String], message: String) throws {
        let r = try Command.run(ProjectPaths.product("batchctl"), ["controller"] + arguments, environment: ["BATCHCTL_CONFIG": ""])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix(message + "\n"), "\(r.stderr)")
    }
}
