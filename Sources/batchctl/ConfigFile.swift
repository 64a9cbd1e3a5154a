import ArgumentParser
import BatchCore
import Posix
import FoundationEssentials

/// Finds, reads and validates the configuration and the secrets from the environment.
enum ConfigFile {
    struct Loaded {
        var config: BatchConfig
        var secrets: Secrets
        /// The file name, or "embedded defaults".
        var source: String
    }

    /// Loads `path`, else `$BATCHCTL_CONFIG`, else the embedded defaults.
    static func load(path: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Loaded {
        let chosen = path ?? environment["BATCHCTL_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        var config = BatchConfig.defaults
        var source = "embedded defaults"
        if let chosen {
            source = chosen
            let text: String
            do {
                text = try FileText.read(chosen)
            } catch {
                throw UnreadableConfig(path: chosen, reason: error.reason, fromEnvironment: path == nil)
            }
            config = try ConfigLoader.load(yaml: text, source: chosen)
        }
        let secrets = try Secrets.resolve(environment: environment) { file in
            do throws(FileTextError) {
                return try FileText.read(file)
            } catch {
                throw FileReadError(reason: error.reason)
            }
        }
        return Loaded(config: config, secrets: secrets, source: source)
    }

    /// The configuration file named on the command line or in $BATCHCTL_CONFIG cannot be read.
    struct UnreadableConfig: BatchctlFailure {
        let path: String
        let reason: String
        let fromEnvironment: Bool
        var kind: FailureKind { .badInput }
        var description: String {
            let fix = fromEnvironment ? "fix $BATCHCTL_CONFIG or unset it" : "check the path"
            return "cannot read the configuration file \(path): \(reason); \(fix), or leave it out to use the embedded defaults"
        }
    }

    struct FileReadError: Error, CustomStringConvertible {
        let reason: String
        var description: String { reason }
    }
}

/// `--config`, declared once for the commands that run with the operator's configuration file (controller, probe,
/// remind; doctor says what it reads it for in its own words).
struct ConfigFileOption: ParsableArguments {
    @Option(help: ArgumentHelp("The configuration file (default: $BATCHCTL_CONFIG, else the embedded defaults).", valueName: "file"))
    var config: String?

    /// The configuration and the secrets (see `ConfigFile.load`).
    func load() throws -> ConfigFile.Loaded { try ConfigFile.load(path: config) }
}
