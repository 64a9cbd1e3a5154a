import BatchTesting
import Testing

/// Help output is part of the product: a change to it shows up here as a diff to review.
@Suite struct HelpSnapshotTests {
    func help(_ args: [String]) throws -> String {
        let r = try Command.run(ProjectPaths.product("batchctl"), args, environment: ["COLUMNS": "80"])
        #expect(r.status == 0)
        return r.stdout
    }

    @Test func rootHelp() throws {
        #expect(try help(["--help"]) == """
            OVERVIEW: Claim, scale and release Celery batch queues on Kubernetes.

            batchctl replaces the batch-queue spreadsheet and the manual 'kubectl scale': a
            controller scales each queue's worker Deployment within safe replica bands
            while the queue has work and its reservation holds, and back to zero when it is
            idle, released or expired.

            Exit status: 0 ok, 1 runtime failure, 2 bad usage or input, 3 conflict (held by
            someone else), 4 forbidden.

            USAGE: batchctl <subcommand>

            OPTIONS:
              --version               Show the version.
              -h, --help              Show help information.

            SUBCOMMANDS:
              config                  Check batchctl's configuration.

              See 'batchctl help <subcommand>' for detailed help.

            """)
    }

    @Test func configValidateHelp() throws {
        #expect(try help(["config", "validate", "--help"]) == """
            OVERVIEW: Validate a configuration file and print the effective configuration.

            Reads FILE (or $BATCHCTL_CONFIG, or the embedded defaults when neither is
            given), checks every key, and prints the configuration batchctl would run with,
            secrets masked. Keys left out keep their defaults. On a problem it prints one
            line per problem, naming the key path, the value and the rule, and exits with
            status 2.

            Secrets are read from the environment, never from the file: REDIS_PASSWORD or
            REDIS_PASSWORD_FILE, and BATCHCTL_WEBHOOK_URL or BATCHCTL_WEBHOOK_URL_FILE.

            USAGE: batchctl config validate [<file>]

            ARGUMENTS:
              <file>                  The YAML file to check.

            OPTIONS:
              --version               Show the version.
              -h, --help              Show help information.


            """)
    }

    @Test func helpSubcommandMatchesTheFlag() throws {
        #expect(try help(["help", "config", "validate"]) == help(["config", "validate", "--help"]))
    }
}
