import BatchCore
import KubeClient
import Logging
import MemberwiseInit
import ServiceLifecycle

/// Posts bodies to the configured webhook: a per-attempt timeout, retries with jittered exponential
/// backoff for connection failures, timeouts, 408, 429 and 5xx, then a warning. The URL is never logged
/// (only `scheme://host/***`).
@MemberwiseInit(.public)
public struct WebhookSender: Sendable {
    /// Delivery settings; `init(settings:)` maps the configuration's `webhook` block.
    public struct Options: Sendable {
        /// The limit for one attempt.
        public var timeout: Duration
        /// Attempts after the first.
        public var retries: Int
        /// The first backoff; each retry doubles it, up to `maxBackoff`, and waits a random 50–100 % of it.
        public var backoff: Duration
        public var maxBackoff: Duration
        public init(timeout: Duration, retries: Int, backoff: Duration = .seconds(1), maxBackoff: Duration = .seconds(30)) {
            self.timeout = timeout
            self.retries = max(0, retries)
            self.backoff = backoff
            self.maxBackoff = maxBackoff
        }
        /// From the configuration's `webhook.timeout` and `webhook.retries`.
        public init(settings: WebhookSettings) {
            self.init(timeout: settings.timeout.duration, retries: settings.retries)
        }
    }

    /// How one delivery ended.
    public enum Outcome: Sendable, Equatable {
        case sent(attempts: Int)
        /// Given up; `why` names the last failure (never the URL).
        case failed(attempts: Int, why: String)
    }

    let url: Secret
    public let options: Options
    var poster: HTTPPoster = HTTPPoster()
    let logger: Logger

    /// The URL as it may be shown: `https://hooks.example.org/***`.
    public var maskedURL: String { HTTPPoster.maskedURL(url.value) }

    /// Posts `body`, retrying as described above. Never throws; cancellation ends it as a failure.
    /// - Parameter what: log metadata naming what is sent (queue, reminder kind).
    public func send(_ body: [UInt8], what: Logger.Metadata) async -> Outcome {
        var attempt = 0
        while true {
            attempt += 1
            let why: String
            var retryable = true
            do {
                let response = try await poster.post(url.value, body: body, timeout: options.timeout)
                if (200..<300).contains(response.status) { return .sent(attempts: attempt) }
                why = "the webhook answered HTTP \(response.status)"
                retryable = response.status == 408 || response.status == 429 || response.status >= 500
            } catch is CancellationError {
                return .failed(attempts: attempt, why: "cancelled")
            } catch {
                why = "\(error)"
            }
            guard retryable, attempt <= options.retries, !Task.isCancelled else {
                return .failed(attempts: attempt, why: why)
            }
            var meta = what
            meta["attempt"] = "\(attempt)"
            meta["webhook"] = "\(maskedURL)"
            meta["error"] = "\(why)"
            logger.debug("Webhook attempt failed; retrying", metadata: meta)
            do {
                try await Task.sleep(for: delay(afterAttempt: attempt))
            } catch {
                return .failed(attempts: attempt, why: "cancelled while waiting to retry after: \(why)")
            }
        }
    }

    /// Jittered exponential backoff (`ExponentialBackoff`): a random 50–100 % of `backoff · 2^(attempt-1)`, at most `maxBackoff`.
    func delay(afterAttempt attempt: Int) -> Duration {
        ExponentialBackoff(initial: options.backoff, maximum: options.maxBackoff).jitteredDelay(attempt: attempt)
    }
}

/// Sends reminders to the webhook without delaying reconciliation: `notify` only enqueues (a bounded
/// buffer; when full, the reminder is dropped with a warning), and `run` delivers one at a time with
/// `WebhookSender`'s timeout and retries. A reminder that cannot be delivered is dropped with a warning
/// naming the queue and the reminder kind; its Event and log line were written anyway.
public final class WebhookNotifier: Notifier, Service {
    struct Job: Sendable {
        let body: [UInt8]
        let queue: String
        let kind: String
    }

    public let sender: WebhookSender
    let format: WebhookSettings.Format
    let clock: @Sendable () -> KubeTime
    let logger: Logger
    let metrics: ControllerMetrics?
    private let jobs: AsyncStream<Job>
    private let inbox: AsyncStream<Job>.Continuation

    /// - Parameters:
    ///   - capacity: reminders waiting for delivery before new ones are dropped.
    ///   - clock: the time put in JSON bodies (`sentAt`).
    public init(sender: WebhookSender, format: WebhookSettings.Format, capacity: Int = 256, metrics: ControllerMetrics? = nil,
                logger: Logger, clock: @escaping @Sendable () -> KubeTime = { .now }) {
        self.sender = sender
        self.format = format
        self.clock = clock
        self.logger = logger
        self.metrics = metrics
        (jobs, inbox) = AsyncStream.makeStream(of: Job.self, bufferingPolicy: .bufferingOldest(max(1, capacity)))
    }

    /// Enqueues the reminder and returns at once.
    public func notify(_ reminder: Reminder, queue: BatchQueue) async {
        let body = WebhookPayload.reminder(reminder, queue: queue, format: format, now: clock())
        let job = Job(body: body, queue: reminder.queue, kind: reminder.reason)
        switch inbox.yield(job) {
        case .enqueued:
            break
        case .dropped:
            metrics?.recordWebhook(result: "dropped")
            logger.warning("Webhook backlog full; reminder dropped (its Event was recorded)",
                           metadata: ["batchqueue": "\(job.queue)", "kind": "\(job.kind)", "webhook": "\(sender.maskedURL)"])
        case .terminated:
            metrics?.recordWebhook(result: "dropped")
            logger.warning("Webhook notifier stopped; reminder not posted (its Event was recorded)",
                           metadata: ["batchqueue": "\(job.queue)", "kind": "\(job.kind)"])
        @unknown default:
            break
        }
    }

    /// Delivers queued reminders until graceful shutdown (or cancellation); what is still queued then is
    /// dropped with a warning.
    public func run() async {
        await cancelWhenGracefulShutdown {
            for await job in self.jobs {
                if Task.isCancelled {
                    self.dropOnShutdown(job)
                    continue
                }
                await self.deliver(job)
            }
        }
        inbox.finish()
    }

    /// Stops accepting reminders; `run` returns once the queued ones are delivered.
    public func finish() { inbox.finish() }

    func deliver(_ job: Job) async {
        let what: Logger.Metadata = ["batchqueue": "\(job.queue)", "kind": "\(job.kind)"]
        switch await sender.send(job.body, what: what) {
        case .sent(let attempts):
            metrics?.recordWebhook(result: "sent")
            logger.info("Reminder posted to the webhook", metadata: what.merging(["attempts": "\(attempts)"]) { $1 })
        case .failed(let attempts, let why):
            metrics?.recordWebhook(result: "failed")
            logger.warning("Webhook failed; reminder dropped (its Event was recorded)", metadata: what.merging([
                "attempts": "\(attempts)", "error": "\(why)", "webhook": "\(sender.maskedURL)",
            ]) { $1 })
        }
    }

    func dropOnShutdown(_ job: Job) {
        metrics?.recordWebhook(result: "dropped")
        logger.warning("Shutting down; reminder not posted (its Event was recorded)",
                       metadata: ["batchqueue": "\(job.queue)", "kind": "\(job.kind)"])
    }
}
