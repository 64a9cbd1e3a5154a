import BatchCore
import FoundationEssentials
import MemberwiseInit

/// A kubeconfig (or in-cluster setup) that cannot be used: names the file, the field path
/// (such as `users[alice].user.client-key-data`) and what is wrong with it.
@MemberwiseInit(.public)
public struct KubeconfigError: BatchctlFailure, Equatable {
    /// The file, with the home directory written as `~`; or a description such as `KUBECONFIG` or `in-cluster`.
    public let file: String
    /// The field path inside the file; empty when the problem is the file itself.
    public let field: String
    /// What is wrong and, where it helps, what to do.
    public let message: String

    public var kind: FailureKind { .badInput }

    public var description: String { field.isEmpty ? "\(file): \(message)" : "\(file): \(field): \(message)" }

    /// `path` with the home directory shortened to `~`, as shown in messages.
    static func display(_ path: String, home: String?) -> String {
        guard let home, !home.isEmpty, home != "/", path.hasPrefix(home + "/") else { return path }
        return "~" + path.dropFirst(home.count)
    }
}
