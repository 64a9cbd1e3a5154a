import BatchTesting
import Foundation
import Testing

/// `batchctl config validate`, run as a user runs it: the real binary in a child process.
@Suite struct ConfigValidateTests {
    let batchctl = ProjectPaths.product("batchctl")
    let shipped = ProjectPaths.root + "/config/batchctl.yaml"

    func write(_ text: String, in dir: TemporaryDirectory, name: String = "c.yaml") throws -> String {
        let path = dir.path + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func theShippedConfigurationIsValid() throws {
        let r = try Command.run(batchctl, ["config", "validate", shipped])
        #expect(r.status == 0)
        #expect(r.stderr == "")
        #expect(r.stdout.hasPrefix("# effective configuration from \(shipped)\nnamespace: court-listener\n"))
        #expect(r.stdout.contains("  separator: \"\\x06\\x16\"\n"))
        #expect(r.stdout.hasSuffix("#   webhook URL:    not set (BATCHCTL_WEBHOOK_URL or BATCHCTL_WEBHOOK_URL_FILE)\n"))
    }

    @Test func withoutAFileItValidatesTheEmbeddedDefaults() throws {
        let r = try Command.run(batchctl, ["config", "validate"], environment: ["BATCHCTL_CONFIG": ""])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("# effective configuration from embedded defaults\n"))
    }

    @Test func batchctlConfigNamesTheDefaultFile() throws {
        let dir = try TemporaryDirectory()
        let path = try write("namespace: from-env\n", in: dir)
        let r = try Command.run(batchctl, ["config", "validate"], environment: ["BATCHCTL_CONFIG": path])
        #expect(r.status == 0)
        #expect(r.stdout.contains("namespace: from-env\n"))
    }

    @Test func aBrokenFileExitsTwoWithOneLinePerProblemAndMovedKeysSayWhereTheyWent() throws {
        let dir = try TemporaryDirectory()
        let path = try write("""
            bands:
            - {name: small, max: 5}
            pollIntervl: 5s
            """, in: dir)
        let r = try Command.run(batchctl, ["config", "validate", path])
        #expect(r.status == 2)
        #expect(r.stdout == "")
        #expect(r.stderr == """
            error: \(path) is not a valid batchctl configuration (2 problems):
              pollIntervl: unknown key; did you mean pollInterval?
              bands: moved to the cluster: set spec.bands of the BatchQueuePolicy named default in the namespace (kubectl edit batchqueuepolicy default) and delete it here (RUNBOOK.md, "Upgrading from the config-file layout")

            """)
    }

    @Test func aBatchQueuePolicyFileIsCheckedOfflineAsOne() throws {
        let shippedPolicy = ProjectPaths.root + "/deploy/base/batchqueuepolicy.yaml"
        let ok = try Command.run(batchctl, ["config", "validate", shippedPolicy])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout == "\(shippedPolicy): a valid BatchQueuePolicy (maxDuration 2w, bands small 1-5, medium 6-10, big 11-20, totalReplicaBudget 40)\n")
        let dir = try TemporaryDirectory()
        let broken = try write("apiVersion: batchctl.dev/v1alpha1\nkind: BatchQueuePolicy\nmetadata: {name: default}\nspec: {reservations: {maxDuration: 2w}}\n", in: dir)
        let r = try Command.run(batchctl, ["config", "validate", broken])
        #expect(r.status == 2)
        #expect(r.stderr == "error: \(broken) is not a valid BatchQueuePolicy (1 problem):\n  spec.reservations.maxDuration: \"2w\" uses d or w, which the API server's admission policy cannot read; write hours, such as 336h\n")
    }

    @Test func aMissingFileExitsTwo() throws {
        let r = try Command.run(batchctl, ["config", "validate", "/nonexistent/batchctl.yaml"])
        #expect(r.status == 2)
        #expect(r.stderr == "error: cannot read the configuration file /nonexistent/batchctl.yaml: no such file; check the path, or leave it out to use the embedded defaults\n")
    }

    @Test func secretsAreMaskedAndNamedByTheirSource() throws {
        let dir = try TemporaryDirectory()
        let hook = try write("https://hooks.example/services/T0/B0/secret\n", in: dir, name: "hook")
        let r = try Command.run(batchctl, ["config", "validate", shipped],
                                environment: ["REDIS_PASSWORD": "hunter2", "BATCHCTL_WEBHOOK_URL_FILE": hook])
        #expect(r.status == 0)
        #expect(!r.stdout.contains("hunter2"))
        #expect(!r.stdout.contains("hooks.example"))
        #expect(r.stdout.contains("#   redis password: *** (from REDIS_PASSWORD)\n"))
        #expect(r.stdout.contains("#   webhook URL:    *** (from BATCHCTL_WEBHOOK_URL_FILE=\(hook))\n"))
    }

    @Test func conflictingSecretVariablesExitTwo() throws {
        let r = try Command.run(batchctl, ["config", "validate", shipped],
                                environment: ["REDIS_PASSWORD": "a", "REDIS_PASSWORD_FILE": "/run/x"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("REDIS_PASSWORD: is set together with REDIS_PASSWORD_FILE; set only one of them"))
        #expect(!r.stderr.contains("error: the environment is not a valid batchctl configuration") || r.stderr.hasPrefix("error: "))
    }

    @Test func unknownFlagsExitTwoWithUsage() throws {
        let r = try Command.run(batchctl, ["config", "validate", "--strict"])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("Error: Unknown option '--strict'\nUsage: batchctl config validate [<file>]\n"))
    }
}
