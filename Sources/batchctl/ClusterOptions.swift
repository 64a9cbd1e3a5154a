import ArgumentParser
import BatchCore
import BatchctlKit
import FoundationEssentials
import KubeClient

/// The global flags of every command that talks to the cluster.
struct ClusterOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else the in-cluster service account).", valueName: "file"))
    var kubeconfig: String?

    @Option(help: ArgumentHelp("The kubeconfig context (default: its current-context).", valueName: "name"))
    var context: String?

    @Option(name: [.short, .long], help: ArgumentHelp("The namespace of the BatchQueue objects (default: the context's).", valueName: "namespace"))
    var namespace: String?

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
        let options = KubeConfigOptions(kubeconfigPath: kubeconfig, context: context, namespace: namespace)
        // A person is waiting: a few quick retries (about 3.5 s in all), not the controller's patient ten.
        return try KubeClient.load(options, retryPolicy: RetryPolicy(maxRetries: 3, initialBackoff: .milliseconds(500), maxBackoff: .seconds(2)))
    }

    /// Who the API server says the user is (warning when it cannot say).
    func identify(_ service: ReservationService) async throws -> Requester {
        let requester = try await Requester.identify(service.client) { printError("warning: \($0)") }
        service.log("you are \(requester.name)\(requester.fromKubeconfig ? " (from the kubeconfig)" : " (SelfSubjectReview)")")
        return requester
    }
}

/// Checks a duration flag with TimeSpan's own message (ArgumentParser's generic one says less).
func parseDuration(_ text: String, flag: String) throws -> TimeSpan {
    do {
        return try TimeSpan.parse(text)
    } catch {
        throw ValidationError("\(flag) \(error.description)")
    }
}
