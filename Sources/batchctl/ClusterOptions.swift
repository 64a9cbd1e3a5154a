import ArgumentParser
import BatchCore
import BatchctlKit
import FoundationEssentials
import KubeClient

/// Where the cluster is: `--kubeconfig`, `--context` and `-n/--namespace`, declared once for every command that
/// talks to the cluster (with `-v` in `ClusterOptions`; the controller has its own `-v`).
struct KubeconfigOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else the in-cluster service account).", valueName: "file"))
    var kubeconfig: String?

    @Option(help: ArgumentHelp("The kubeconfig context (default: its current-context).", valueName: "name"))
    var context: String?

    @Option(name: [.short, .long], help: ArgumentHelp("The namespace of the BatchQueues (default: the context's; for controller and remind, the configuration's namespace).", valueName: "namespace"))
    var namespace: String?

    func validate() throws {
        if let namespace, let why = KubernetesNames.dnsLabelProblem(namespace) {
            throw ValidationError("-n \(namespace) \(why)")
        }
    }

    /// The namespace, by the one rule of every command: `-n`; else `configured`, the operator's configuration file's
    /// `namespace`, for the commands that run with it (controller, remind); else (nil) the kubeconfig context's, or
    /// in a pod the service account's.
    func namespace(configured: String? = nil) -> String? { namespace ?? configured }

    /// The kubeconfig's cluster, with the namespace by `namespace(configured:)`.
    func load(configured: String? = nil) throws -> ClusterConfig {
        try ClusterConfig.load(KubeConfigOptions(kubeconfigPath: kubeconfig, context: context, namespace: namespace(configured: configured)))
    }
}

/// The global flags of every command that talks to the cluster as a person: where it is, and `-v`.
struct ClusterOptions: ParsableArguments {
    @OptionGroup var location: KubeconfigOptions

    @Flag(name: [.short, .long], help: "Print each step (identity, reads, writes with their resourceVersion) on standard error.")
    var verbose = false

    /// Loads the kubeconfig and makes the reservation service, with the rules the cluster holds (the namespace's
    /// BatchQueuePolicy `default`; no configuration file). The namespace is `-n`, else the context's.
    func connect() async throws -> ReservationService {
        let client = try client()
        let verbose = self.verbose
        let log: @Sendable (String) -> Void = { line in
            if verbose { printError("batchctl: \(line)") }
        }
        log("server \(client.transport.config.server), context \(client.transport.config.contextName ?? "in-cluster"), namespace \(client.namespace)")
        return try await ReservationService.connect(client: client, namespace: client.namespace, log: log,
                                                    warn: { printError("warning: \($0)") })
    }

    /// A client for the cluster, with the few quick retries of a command a person waits for; its namespace is
    /// `-n`, else the context's.
    func client() throws -> KubeClient {
        // A person is waiting: a few quick retries (about 3.5 s in all), not the controller's patient ten.
        KubeClient(config: try location.load(), retryPolicy: RetryPolicy(maxRetries: 3, initialBackoff: .milliseconds(500), maxBackoff: .seconds(2)))
    }

    /// Who the API server says the user is (warning when it cannot say).
    func identify(_ service: ReservationService) async throws -> Requester {
        let requester = try await Requester.identify(service.client) { printError("warning: \($0)") }
        service.log("you are \(requester.name)\(requester.fromKubeconfig ? " (from the kubeconfig)" : " (SelfSubjectReview)")")
        return requester
    }
}

extension TimeSpan {
    /// A duration argument parsed once, with the arguments (before any I/O), for `@Option(transform: TimeSpan.argument)`:
    /// ArgumentParser names the flag and the value, TimeSpan's message says what is wrong and shows a valid example.
    static func argument(_ text: String) throws -> TimeSpan {
        do {
            return try TimeSpan.parse(text)
        } catch {
            throw ValidationError(error.description)
        }
    }
}

/// A queue named on the command line, checked once while the arguments are parsed (before any I/O), for
/// `@Argument(transform: queueName)`: a queue's name is its BatchQueue's, a DNS-1123 label.
func queueName(_ text: String) throws -> String {
    if let why = KubernetesNames.queueNameProblem(text) { throw ValidationError("\"\(text)\" \(why)") }
    return text
}

/// A duration flag checked in `validate()` or `run()`, with TimeSpan's message after the flag, for commands whose
/// option is still a String; prefer `@Option(transform: TimeSpan.argument)`, parsed once with the arguments.
func parseDuration(_ text: String, flag: String) throws -> TimeSpan {
    do {
        return try TimeSpan.argument(text)
    } catch let error as ValidationError {
        throw ValidationError("\(flag) \(error.message)")
    }
}
