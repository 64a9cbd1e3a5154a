import BatchCore
import KubeClient
import MemberwiseInit

/// Who runs a command, as the reservation holder is recorded: the user the API server authenticates.
@MemberwiseInit(.public)
public struct Requester: Sendable, Equatable {
    /// The user name (`alice@example.org`, `system:serviceaccount:ns:name`).
    public var name: String
    public var groups: [String] = []
    /// True when the cluster has no SelfSubjectReview API and the kubeconfig user name was used instead.
    public var fromKubeconfig: Bool = false

    /// Asks the API server who the client is (`POST selfsubjectreviews`). When the cluster lacks that API
    /// (404), falls back to the kubeconfig user name and says so through `warn`.
    public static func identify(_ client: KubeClient, warn: @Sendable (String) -> Void) async throws -> Requester {
        do {
            let user = try await client.whoAmI()
            return Requester(name: user.username, groups: user.groups ?? [])
        } catch let error as KubeError where error.isNotFound {
            guard let name = client.transport.config.userName, !name.isEmpty else {
                throw NoIdentity(server: client.transport.config.server)
            }
            warn("the API server has no SelfSubjectReview API (authentication.k8s.io/v1), so the holder is recorded as the kubeconfig user '\(name)', which the server has not confirmed")
            return Requester(name: name, fromKubeconfig: true)
        }
    }
}

/// Neither the API server nor the kubeconfig says who the user is.
struct NoIdentity: BatchctlFailure {
    let server: String
    var kind: FailureKind { .runtime }
    var description: String {
        "\(server) has no SelfSubjectReview API and the credentials have no kubeconfig user name, so batchctl cannot tell who you are; use a kubeconfig context with a named user"
    }
}
