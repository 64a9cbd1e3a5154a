import ArgumentParser
import BatchCore
import Controller
import FoundationEssentials
import KubeClient
import Logging

struct RemindCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remind",
        abstract: "Print a digest of who holds which queue and post it to the webhook.",
        discussion: """
        Reads the BatchQueues and prints one line per queue: the holder, since when and until when (UTC and relative), how long it has been idle, replicas and queue depth (as the controller last recorded them), and the next command where one is due ('batchctl extend', 'batchctl release', 'batchctl claim'). Unless --dry-run is given, the digest is also posted to the webhook from BATCHCTL_WEBHOOK_URL or BATCHCTL_WEBHOOK_URL_FILE, with the configuration's webhook format, timeout and retries; without a webhook it is only printed.

        The per-event reminders (expiring soon, expired, sleeping, idle, orphaned tasks, Redis memory) are sent by the controller; this digest is for a CronJob (deploy/base/remind-cronjob.yaml) or a person. Exit status: 0 printed (and posted), 1 the cluster could not be read or the webhook failed after its retries, 2 bad usage or configuration.
        """
    )

    @Flag(help: "Print the digest but do not post it to the webhook.")
    var dryRun = false

    @OptionGroup var configFile: ConfigFileOption

    @OptionGroup(title: "Cluster options") var cluster: KubeconfigOptions

    func run() async throws {
        let loaded = try configFile.load()
        let cluster = try self.cluster.load(configured: loaded.config.namespace)
        let ns = cluster.namespace
        let client = KubeClient(config: cluster)
        let list = try await client.batchQueues(namespace: ns)
        for skipped in list.skipped { printError("warning: left out of the digest, it does not decode: \(skipped)") }
        let queues = list.items
        let rules: QueuePolicy   // the cluster's BatchQueuePolicy, for the reminder thresholds
        do {
            rules = try await client.queuePolicy(namespace: ns) ?? .defaults
        } catch let error as KubeError where error.isForbidden {
            printError("warning: cannot read the BatchQueuePolicy of \(ns) (\(error)); using the embedded defaults: grant get on batchqueuepolicies")
            rules = .defaults
        }
        let digest = ReminderDigest.build(queues: queues, namespace: ns, now: .now, policy: loaded.config.with(policy: rules))
        print(digest.text.terminalSafeLines)   // holders and reasons are user-supplied
        guard let url = loaded.secrets.webhookURL else {
            if !dryRun { printError("note: no webhook configured (BATCHCTL_WEBHOOK_URL or BATCHCTL_WEBHOOK_URL_FILE); the digest was only printed") }
            return
        }
        let masked = HTTPPoster.maskedURL(url.value)
        if dryRun {
            printError("dry run: not posted to the webhook (\(masked))")
            return
        }
        var logger = Logger(label: "batchctl.remind")
        logger.logLevel = .warning
        let sender = WebhookSender(url: url, options: .init(settings: loaded.config.webhook), logger: logger)
        switch await sender.send(WebhookPayload.digest(digest, format: loaded.config.webhook.format), what: ["kind": "Digest"]) {
        case .sent:
            printError("posted to the webhook (\(masked))")
        case .failed(let attempts, let why):
            throw WebhookFailed(masked: masked, attempts: attempts, why: why)
        }
    }

    /// The digest could not be posted after the configured retries.
    struct WebhookFailed: BatchctlFailure {
        let masked: String
        let attempts: Int
        let why: String
        var kind: FailureKind { .runtime }
        var description: String {
            "the digest was printed but could not be posted to the webhook (\(masked)) after \(attempts) attempt(s): \(why); check the URL in BATCHCTL_WEBHOOK_URL(_FILE) and that the receiver is reachable"
        }
    }
}
