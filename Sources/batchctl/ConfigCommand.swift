import ArgumentParser
import BatchCore

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Check batchctl's configuration.",
        subcommands: [Validate.self]
    )

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a configuration file and print the effective configuration.",
            discussion: """
            Reads FILE (or $BATCHCTL_CONFIG, or the embedded defaults when neither is given), checks every key, and prints the configuration batchctl would run with, secrets masked. Keys left out keep their defaults. On a problem it prints one line per problem, naming the key path, the value and the rule, and exits with status 2.

            Secrets are read from the environment, never from the file: REDIS_PASSWORD or REDIS_PASSWORD_FILE, and BATCHCTL_WEBHOOK_URL or BATCHCTL_WEBHOOK_URL_FILE.
            """
        )

        @Argument(help: ArgumentHelp("The YAML file to check.", valueName: "file"))
        var file: String?

        func run() async throws {
            let loaded = try ConfigFile.load(path: file)
            print("# effective configuration from \(loaded.source)")
            print(loaded.config.renderYAML(secrets: loaded.secrets), terminator: "")
        }
    }
}
