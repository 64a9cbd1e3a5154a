import ArgumentParser
import BatchCore
import Posix

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Check batchctl's configuration.",
        subcommands: [Validate.self]
    )

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "validate",   // named, as every command is: ArgumentParser otherwise formats the type name at each start
            abstract: "Validate a configuration file and print the effective configuration.",
            discussion: """
            Reads FILE (or $BATCHCTL_CONFIG, or the embedded defaults when neither is given), checks every key, and prints the configuration batchctl would run with, secrets masked. Keys left out keep their defaults. On a problem it prints one line per problem, naming the key path, the value and the rule, and exits with status 2. The file is the controller's own configuration: the rules users are held to live in the cluster, in the namespace's BatchQueuePolicy, and a key that moved there is refused with where it went.

            A file holding a BatchQueuePolicy (kind: BatchQueuePolicy) is checked as one, offline, with the same rules the controller applies to it.

            Secrets are read from the environment, never from the file: REDIS_PASSWORD or REDIS_PASSWORD_FILE, and BATCHCTL_WEBHOOK_URL or BATCHCTL_WEBHOOK_URL_FILE.
            """
        )

        @Argument(help: ArgumentHelp("The YAML file to check.", valueName: "file"))
        var file: String?

        func run() async throws {
            if let file, let text = try? FileText.read(file), let policy = try ConfigLoader.loadPolicyObject(yaml: text, source: file) {
                print("\(file): a valid BatchQueuePolicy (maxDuration \(policy.reservations.maxDuration), bands \(policy.bands.map { "\($0.name) \($0.min)-\($0.max)" }.joined(separator: ", ")), totalReplicaBudget \(policy.totalReplicaBudget))")
                return
            }
            let loaded = try ConfigFile.load(path: file)
            print("# effective configuration from \(loaded.source)")
            print(loaded.config.renderYAML(secrets: loaded.secrets), terminator: "")
        }
    }
}
