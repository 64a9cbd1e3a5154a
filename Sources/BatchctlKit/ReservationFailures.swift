import BatchCore

/// No BatchQueue of that name exists in the namespace.
public struct UnknownQueue: BatchctlFailure, Equatable {
    /// The name asked for.
    public let name: String
    /// Where it was looked for.
    public let namespace: String
    /// The names that do exist.
    public let known: [String]
    public var kind: FailureKind { .badInput }
    public var description: String {
        if known.isEmpty {
            return "there is no queue \"\(name)\" in namespace \(namespace), and no BatchQueue objects at all; check -n/--namespace and --context, or ask an admin to apply deploy/"
        }
        return "there is no queue \"\(name)\" in namespace \(namespace); the queues are \(known.joined(separator: ", "))"
    }
}

/// The cluster does not serve `batchqueues.batchctl.dev`.
public struct ResourceNotInstalled: BatchctlFailure, Equatable {
    /// The API server's URL.
    public let server: String
    public var kind: FailureKind { .runtime }
    public var description: String {
        "\(server) does not serve batchqueues.batchctl.dev: the BatchQueue CRD is not installed; ask an admin to install it (kubectl apply -k deploy/crds, then kubectl apply -k deploy)"
    }
}

/// `claim --any` found every queue held.
public struct NoFreeQueue: BatchctlFailure {
    /// Every queue, as last read.
    public let queues: [BatchQueue]
    /// When they were read.
    public let now: KubeTime
    /// Who asked (their own claims read "held by you").
    public let user: String
    public var kind: FailureKind { .conflict }
    public var description: String {
        guard !queues.isEmpty else { return "there are no BatchQueue objects to claim; ask an admin to apply deploy/" }
        let lines = queues.map { q -> String in
            let name = q.metadata.name ?? q.queueName
            if q.spec.paused == true { return "  \(name): paused by an admin" }
            guard let r = q.spec.reservation else { return "  \(name): free" }
            let who = r.holder == user ? "you" : r.holder
            return "  \(name): held by \(who) until \(TimeText.utc(r.expiresAt)) (\(TimeText.relative(r.expiresAt, now: now)))"
        }
        return "no queue is free:\n" + lines.joined(separator: "\n") + "\nAsk a holder to release one, or run 'batchctl status' to see when they expire."
    }
}

/// The API server refused to let someone else take over a claim that has expired but not yet been cleared
/// (the holder-only admission policy): the controller clears expired claims within seconds.
public struct ExpiredClaimPending: BatchctlFailure {
    public let queue: String
    /// The expired claim still recorded.
    public let previous: Reservation
    /// The API server's reason for the 403.
    public let serverMessage: String?
    public var kind: FailureKind { .conflict }
    public var description: String {
        "\(queue)'s previous claim by \(previous.holder) expired at \(TimeText.utc(previous.expiresAt)) but is not cleared yet, and the API server refused to replace it (\(serverMessage ?? "403 Forbidden")); the controller clears expired claims within seconds: try again shortly"
    }
}

/// The API server refused a claim, extend or scale (403): RBAC does not let the user change BatchQueues.
public struct WriteForbidden: BatchctlFailure {
    public let queue: String
    public let verb: String
    public let user: String
    public let serverMessage: String?
    public var kind: FailureKind { .forbidden }
    public var description: String {
        "the API server does not let \(user) \(verb) \(queue): \(serverMessage ?? "403 Forbidden"); ask an admin to add you to the batchctl-user role (group batchctl:users)"
    }
}

/// The API server refused a release (403): only the holder or an admin may release.
public struct ReleaseForbidden: BatchctlFailure {
    public let queue: String
    public let holder: String
    public let user: String
    public let serverMessage: String?
    public var kind: FailureKind { .forbidden }
    public var description: String {
        "only the holder (\(holder)) or an admin (group batchctl:admins) may release \(queue); the API server refused \(user): \(serverMessage ?? "403 Forbidden")"
    }
}

/// The object changed on every attempt to write it.
public struct KeptChanging: BatchctlFailure {
    public let queue: String
    public let attempts: Int
    public var kind: FailureKind { .runtime }
    public var description: String {
        "\(queue) changed under batchctl on each of \(attempts) attempts to write it; nothing was written, try again"
    }
}

/// An internal invariant did not hold.
struct UnexpectedState: BatchctlFailure {
    let message: String
    var kind: FailureKind { .runtime }
    var description: String { "internal error: \(message)" }
}
