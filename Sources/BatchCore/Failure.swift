/// What kind of failure an error is, so a command line front end can pick its exit status
/// (0 ok, 1 runtime failure, 2 bad usage or input, 3 conflict, 4 forbidden).
public enum FailureKind: Sendable, Equatable {
    /// Something went wrong while running: a server unreachable, an unexpected answer.
    case runtime
    /// The input (a flag, a file, a duration, an environment variable) is wrong; nothing was changed.
    case badInput
    /// The thing asked for is held by someone else.
    case conflict
    /// The API server refused the request for lack of permission.
    case forbidden
}

/// An error that carries a message a person can act on and the kind of failure it is.
public protocol BatchctlFailure: Error, CustomStringConvertible {
    /// Decides the exit status of the command that failed.
    var kind: FailureKind { get }
}
