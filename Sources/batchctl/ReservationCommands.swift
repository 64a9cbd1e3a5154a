import ArgumentParser
import BatchCore
import BatchctlKit

/// `batchctl claim (QUEUE | --any)`.
struct ClaimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "claim",
        abstract: "Reserve a batch queue for yourself, or update your reservation.",
        discussion: """
        Records you as the queue's holder in its BatchQueue object. The holder is the user the API server authenticates (SelfSubjectReview); if the cluster lacks that API, the kubeconfig user, with a warning. A free or expired queue becomes yours; a queue you already hold is updated (flags you leave out keep their values); a queue someone else holds is refused with exit status 3, naming the holder. With --any, batchctl claims the first free queue in the cluster's order (spec.claimOrder of the namespace's BatchQueuePolicy, then by name).

        The claim is one conditional write carrying the resourceVersion batchctl read, so two people can never both get a queue: the loser re-reads it and is told who won. The controller then scales the queue's workers, up to --replicas, while the queue has work.

        The rules are the cluster's: the namespace's BatchQueuePolicy named default (kubectl get bqp), read at every run, and enforced by the API server too; no configuration file is needed. By default the replica bands are 1-5 small, 6-10 medium, 11-20 big (needs --approve-band big: check the database and the services your tasks use can take it); never above the queue's maxReplicas. The reservation lasts --for (default the policy's reservations.defaultDuration, at most its reservations.maxDuration from when it was claimed); extend it with 'batchctl extend'.

        Exit status: 0 claimed or updated, 2 bad input (unknown queue, duration, replicas, band), 3 held by someone else (or no queue free), 4 forbidden.
        """
    )

    @Argument(help: ArgumentHelp("The queue to claim, such as batch1.", valueName: "queue"), transform: queueName)
    var queue: String?

    @Flag(help: "Claim the first free queue instead of a named one.")
    var any = false

    @Option(name: .customLong("for"), help: ArgumentHelp("How long to hold it, such as 3d or 12h (default: reservations.defaultDuration for a new claim; an update keeps the expiry unless given).", valueName: "duration"),
            transform: TimeSpan.argument)
    var duration: TimeSpan?

    @Option(help: ArgumentHelp("The most workers the controller may run for you (default: 5 for a new claim, else unchanged).", valueName: "n"))
    var replicas: Int?

    @Option(help: ArgumentHelp("What the queue is used for, shown to everyone in 'batchctl status' and 'kubectl get bq'.", valueName: "text"))
    var reason: String?

    @Option(help: ArgumentHelp("Approve a band that needs it: 'big' for 11-20 replicas.", valueName: "band"))
    var approveBand: String?

    @Flag(inversion: .prefixedNo, help: "Let the controller release the claim once the queue has drained and stayed idle for idleAfter (default: off for a new claim, else unchanged).")
    var releaseWhenDone: Bool?

    @OptionGroup(title: "Cluster options") var cluster: ClusterOptions

    func validate() throws {
        if any == (queue != nil) { throw ValidationError("name one queue or pass --any, such as 'batchctl claim batch1' or 'batchctl claim --any'") }
    }

    func run() async throws {
        let request = ReservationPolicy.ClaimRequest(duration: duration,
                                                     replicas: replicas, reason: reason, approvedBand: approveBand,
                                                     releaseWhenDone: releaseWhenDone)
        let service = try await cluster.connect()
        let me = try await cluster.identify(service)
        let result: ReservationService.ClaimResult
        if let queue {
            result = try await service.claim(queue, by: me.name, request: request)
        } else {
            result = try await service.claimAny(by: me.name, request: request)
        }
        let name = result.queue.metadata.name ?? result.queue.queueName
        let now = service.now()
        switch result.outcome {
        case .claimed(let r):
            print("claimed \(name) for \(r.holder): \(ReservationText.summary(r, now: now))")
            let end = r.releaseWhenDone == true ? "The controller releases it once the queue has drained and stayed idle; 'batchctl drain \(name)' shows the progress." : "Run 'batchctl release \(name)' when you are done."
            print("Send tasks to the \(result.queue.queueName) queue; the controller scales \(result.queue.spec.deployment) while there is work. \(end)")
        case .updated(let r):
            print("updated your claim on \(name): \(ReservationText.summary(r, now: now))")
        }
    }
}

/// `batchctl scale QUEUE N`.
struct ScaleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale",
        abstract: "Change the most workers your reservation may run.",
        discussion: """
        Sets the replica ceiling of your reservation: the controller ramps the queue's workers up to it, step by step, while the queue has work, and never above it. Only the holder may scale. The same checks as 'batchctl claim' apply: 11-20 replicas need --approve-band big, and nothing goes above the queue's maxReplicas.

        Exit status: 0 ok, 2 bad input or the queue is not reserved, 3 held by someone else, 4 forbidden.
        """
    )

    @Argument(help: ArgumentHelp("The queue you hold.", valueName: "queue"), transform: queueName)
    var queue: String

    @Argument(help: ArgumentHelp("The new replica ceiling.", valueName: "replicas"))
    var replicas: Int

    @Option(help: ArgumentHelp("Approve a band that needs it: 'big' for 11-20 replicas.", valueName: "band"))
    var approveBand: String?

    @OptionGroup(title: "Cluster options") var cluster: ClusterOptions

    func run() async throws {
        let service = try await cluster.connect()
        let me = try await cluster.identify(service)
        let r = try await service.scale(queue, by: me.name, replicas: replicas, approvedBand: approveBand)
        print("scaled your claim on \(queue): \(ReservationText.summary(r, now: service.now()))")
    }
}

/// `batchctl extend QUEUE --for D`.
struct ExtendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extend",
        abstract: "Hold your reservation longer.",
        discussion: """
        Moves your reservation's expiry later by --for, counted from the current expiry (or from now, if it has passed). Only the holder may extend, and the whole reservation may not last longer than the BatchQueuePolicy's reservations.maxDuration from when it was claimed; the message says how much room is left.

        Exit status: 0 ok, 2 bad input or the queue is not reserved, 3 held by someone else, 4 forbidden.
        """
    )

    @Argument(help: ArgumentHelp("The queue you hold.", valueName: "queue"), transform: queueName)
    var queue: String

    @Option(name: .customLong("for"), help: ArgumentHelp("How much longer, such as 1d or 6h.", valueName: "duration"), transform: TimeSpan.argument)
    var duration: TimeSpan

    @OptionGroup(title: "Cluster options") var cluster: ClusterOptions

    func run() async throws {
        let span = duration
        let service = try await cluster.connect()
        let me = try await cluster.identify(service)
        let r = try await service.extend(queue, by: me.name, duration: span)
        print("extended your claim on \(queue): \(ReservationText.summary(r, now: service.now()))")
    }
}

/// `batchctl release QUEUE`.
struct ReleaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release",
        abstract: "Give a queue back, so its workers go to zero.",
        discussion: """
        Removes the reservation from the queue's BatchQueue object; the controller then lets busy workers finish and scales the Deployment to zero. Only the holder may release. An admin (group batchctl:admins) may release someone else's claim with --force; whether you are one is for the API server to decide, and a refusal exits with status 4.

        Exit status: 0 released (or already free), 2 bad input, 3 held by someone else (without --force), 4 forbidden.
        """
    )

    @Argument(help: ArgumentHelp("The queue to release.", valueName: "queue"), transform: queueName)
    var queue: String

    @Flag(help: "Release someone else's claim (admins only).")
    var force = false

    @OptionGroup(title: "Cluster options") var cluster: ClusterOptions

    func run() async throws {
        let service = try await cluster.connect()
        let me = try await cluster.identify(service)
        try await Self.releaseAndReport(queue, service: service, me: me, force: force)
    }

    /// Releases `queue` and prints what happened, with what the claim used (the usage ledger as last written).
    static func releaseAndReport(_ queue: String, service: ReservationService, me: Requester, force: Bool) async throws {
        switch try await service.release(queue, by: me.name, force: force) {
        case let .released(r, usage):
            let whose = r.holder == me.name ? "your claim" : "\(r.holder)'s claim"
            print("released \(whose) on \(queue); the controller scales its workers to zero once busy ones finish")
            if let usage { print(UsageText.sentence(usage, queue: queue)) }
        case .alreadyFree:
            print("\(queue) is already free; nothing to release")
        }
    }
}

/// Reservation wording shared by the commands.
enum ReservationText {
    /// `until 2026-11-24 10:00 UTC (in 3d), up to 5 replicas, for "rehash passwords"`.
    static func summary(_ r: Reservation, now: KubeTime) -> String {
        // Rounded to the minute: a claim for 3d read back a moment later is still "in 3d", not "in 2d".
        let left = r.expiresAt.secondsSinceEpoch - now.secondsSinceEpoch
        let rounded = (left + (left >= 0 ? 30 : -30)) / 60 * 60
        let relative = rounded >= 0 ? "in \(TimeText.span(seconds: rounded))" : "\(TimeText.span(seconds: rounded)) ago"
        var text = "until \(TimeText.utc(r.expiresAt)) (\(relative)), up to \(r.replicas) replica\(r.replicas == 1 ? "" : "s")"
        if let band = r.approvedBand { text += " (\(band) band approved)" }
        if let reason = r.reason { text += ", for \"\(reason)\"" }
        if r.releaseWhenDone == true { text += ", released when done" }
        return text
    }
}
