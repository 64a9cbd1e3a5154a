import BatchCore
import BatchTesting
import Controller
import Logging
import Synchronization
import Testing

/// Log lines kept in memory, to check what a warning names (and that no URL is in any of them).
final class CapturedLogs: Sendable {
    struct Line: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
        var all: String { message + " " + metadata.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " ") }
    }
    let lines = Mutex<[Line]>([])
    var all: [Line] { lines.withLock { $0 } }

    var logger: Logger {
        Logger(label: "test") { _ in Handler(sink: self) }
    }

    struct Handler: LogHandler {
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }.mapValues { "\($0)" }
            sink.lines.withLock { $0.append(Line(level: event.level, message: "\(event.message)", metadata: merged)) }
        }
    }
}

/// Every reminder kind fires exactly once at the right moment, whichever controller (a restarted one, a
/// new leader) runs each pass: the dedup lives in `status.reminders`, which the fake cluster keeps.
@Suite struct ReminderLifecycleTests {
    @Test func eachKindOnceAcrossRestartsAndFailover() async {
        let clock = TestClock()
        let redis = FakeObserver()
        let notifier = FakeNotifier()
        let cluster = FakeCluster(queues: ["batch0", "batch1"])
        // Every pass runs on a new Reconciler: a restart, or the other replica taking over.
        func pass() async {
            let r = Reconciler(config: .defaults, settings: .init(pollInterval: .seconds(1)), observer: redis, cluster: cluster,
                               notifier: notifier, clock: { clock.now })
            let report = await r.reconcileOnce()
            #expect(report.failures.isEmpty)
        }
        let t0 = clock.now
        cluster.update("batch1") {
            $0.spec.reservation = Reservation(holder: "alice@example.org", reason: "rehash", claimedAt: t0,
                                              expiresAt: KubeTime(secondsSinceEpoch: t0.secondsSinceEpoch + 2 * 86_400), replicas: 4)
        }
        func kinds() -> [String] { cluster.events.map(\.reason) }

        // t0: tasks on unclaimed batch0, Redis at 90 % of maxmemory.
        redis.set(["batch0": (30, 0), "batch1": (0, 0)])
        redis.setMemory(used: 900 << 20, max: 1_000 << 20)
        await pass()
        await pass()
        #expect(kinds().sorted() == ["OrphanedTasks", "RedisMemoryHigh"])
        // The workers of someone who claims batch0 drained it; Redis memory went down.
        redis.set(["batch0": (0, 0), "batch1": (0, 0)])
        redis.setMemory(used: 100 << 20, max: 1_000 << 20)
        // batch1 idle for idleAfter (15 min): it sleeps, with one reminder.
        clock.advance(15 * 60)
        await pass()
        await pass()
        #expect(kinds().filter { $0 == "QueueSleeping" }.count == 1)
        // 24 h before expiry: one "expiring soon".
        clock.advance(86_400 - 15 * 60)
        await pass()
        await pass()
        #expect(kinds().filter { $0 == "ReservationExpiringSoon" }.count == 1)
        // A day after it slept: one "held but idle".
        clock.advance(15 * 60)
        await pass()
        await pass()
        #expect(kinds().filter { $0 == "ReservationIdle" }.count == 1)
        // 1 h before expiry: the second "expiring soon".
        clock.advance(23 * 3_600 - 15 * 60)
        await pass()
        await pass()
        #expect(kinds().filter { $0 == "ReservationExpiringSoon" }.count == 2)
        // Expiry: released, one "expired".
        clock.advance(3_600)
        await pass()
        await pass()
        clock.advance(60)
        await pass()
        #expect(cluster.queue("batch1").spec.reservation == nil)
        #expect(kinds().sorted() == ["OrphanedTasks", "QueueSleeping", "RedisMemoryHigh", "ReservationExpired",
                                     "ReservationExpiringSoon", "ReservationExpiringSoon", "ReservationIdle"])
        // The webhook got exactly what the Events got, in the same order.
        #expect(notifier.sent.withLock { $0.map(\.rawValue) } == kinds())
        // Messages name the holder, UTC and relative times, and the next command.
        let expiring = cluster.events.first { $0.reason == "ReservationExpiringSoon" }?.note ?? ""
        #expect(expiring.contains("alice@example.org") && expiring.contains(" UTC (in 24 h)") && expiring.contains("batchctl extend batch1 --for 1d"))
        let sleeping = cluster.events.first { $0.reason == "QueueSleeping" }?.note ?? ""
        #expect(sleeping.contains("batchctl release batch1"))
    }
}

/// The webhook: formats, retries, and a dead or slow receiver never holding up a pass. A real receiver
/// on 127.0.0.1 (Tests/Fixtures/webhook_receiver.py).
@Suite(.serialized) struct WebhookNotifierTests {
    static let queue = BatchQueue(metadata: ObjectMeta(name: "batch1", namespace: "court-listener", generation: 1),
                                  spec: BatchQueueSpec(queue: "batch1", deployment: "celery-batch1", reservation: Reservation(
                                      holder: "alice@example.org", reason: "rehash \"passwords\"", claimedAt: KubeTime(secondsSinceEpoch: 1_800_000_000),
                                      expiresAt: KubeTime(secondsSinceEpoch: 1_800_086_400), replicas: 4)))
    static let reminder = Reminder(kind: .expiringSoon, queue: "batch1", holder: "alice@example.org",
                                   message: "batch1 is held by alice@example.org until 2027-01-16 08:00 UTC (in 1 h). Run 'batchctl extend batch1 --for 1d'.",
                                   nextCommand: "batchctl extend batch1 --for 1d", isWarning: false)

    func notifier(_ url: String, format: WebhookSettings.Format = .slack, retries: Int = 2, timeout: Duration = .seconds(2),
                  logs: CapturedLogs, metrics: ControllerMetrics? = nil) -> WebhookNotifier {
        let sender = WebhookSender(url: Secret(value: url, origin: "BATCHCTL_WEBHOOK_URL"),
                                   options: .init(timeout: timeout, retries: retries, backoff: .milliseconds(20), maxBackoff: .milliseconds(100)),
                                   logger: logs.logger)
        return WebhookNotifier(sender: sender, format: format, metrics: metrics, logger: logs.logger,
                               clock: { KubeTime(secondsSinceEpoch: 1_800_082_800) })
    }

    /// Runs `body` with the notifier's delivery loop running, then stops it.
    func running(_ n: WebhookNotifier, _ body: () async throws -> Void) async rethrows {
        let loop = Task { await n.run() }
        defer { loop.cancel() }
        try await body()
    }

    @Test func slackFormatIsTheMessageAsText() async throws {
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        let logs = CapturedLogs()
        let n = notifier(receiver.url, logs: logs)
        await running(n) {
            await n.notify(Self.reminder, queue: Self.queue)
            #expect(await Wait.untilAsync(timeout: .seconds(20)) { receiver.bodies.count == 1 })
        }
        // Slack's format: an object with one key, text.
        #expect(receiver.decoded([String: String].self).first == ["text": Self.reminder.message])
    }

    @Test func jsonFormatCarriesEveryField() async throws {
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        let n = notifier(receiver.url, format: .json, logs: CapturedLogs())
        await running(n) {
            await n.notify(Self.reminder, queue: Self.queue)
            #expect(await Wait.untilAsync(timeout: .seconds(20)) { receiver.bodies.count == 1 })
        }
        struct Body: Decodable {
            struct Reservation: Decodable {
                var expiresAt, reason: String?
                var replicas: Int?
            }
            var reason, severity, queue, namespace, holder, nextCommand, message, sentAt: String?
            var reservation: Reservation?
        }
        let o = try #require(receiver.decoded(Body.self).first)
        #expect(o.reason == "ReservationExpiringSoon")
        #expect(o.severity == "Normal")
        #expect(o.queue == "batch1")
        #expect(o.namespace == "court-listener")
        #expect(o.holder == "alice@example.org")
        #expect(o.nextCommand == "batchctl extend batch1 --for 1d")
        #expect(o.message == Self.reminder.message)
        #expect(o.sentAt == "2027-01-16T07:00:00Z")
        let r = try #require(o.reservation)
        #expect(r.expiresAt == "2027-01-16T08:00:00Z")
        #expect(r.reason == "rehash \"passwords\"")
        #expect(r.replicas == 4)
    }

    @Test func failuresAreRetriedThenDelivered() async throws {
        let receiver = try WebhookReceiver(failFirst: 2)
        defer { receiver.stop() }
        let logs = CapturedLogs()
        let metrics = ControllerMetrics()
        let n = notifier(receiver.url, retries: 3, logs: logs, metrics: metrics)
        await running(n) {
            await n.notify(Self.reminder, queue: Self.queue)
            #expect(await Wait.untilAsync(timeout: .seconds(20)) { logs.all.contains { $0.message.hasPrefix("Reminder posted") } })
        }
        #expect(receiver.bodies.count == 3)
        #expect(metrics.exposition().contains(#"batchctl_webhook_notifications_total{result="sent"} 1"#))
        #expect(!logs.all.contains { $0.all.contains("secret-token") })
    }

    @Test func aDeadWebhookIsRetriedThenDroppedWithAWarningThatNamesNoURL() async throws {
        let port = try FreePort.next()   // nothing listens there
        let logs = CapturedLogs()
        let metrics = ControllerMetrics()
        let n = notifier("http://127.0.0.1:\(port)/hooks/secret-token", retries: 2, logs: logs, metrics: metrics)
        await running(n) {
            await n.notify(Self.reminder, queue: Self.queue)
            #expect(await Wait.untilAsync(timeout: .seconds(20)) { logs.all.contains { $0.level == .warning } })
        }
        let warning = try #require(logs.all.first { $0.level == .warning })
        #expect(warning.metadata["batchqueue"] == "batch1")
        #expect(warning.metadata["kind"] == "ReservationExpiringSoon")
        #expect(warning.metadata["attempts"] == "3")
        #expect(warning.metadata["webhook"] == "http://127.0.0.1:\(port)/***")
        #expect(!logs.all.contains { $0.all.contains("secret-token") })
        #expect(metrics.exposition().contains(#"batchctl_webhook_notifications_total{result="failed"} 1"#))
    }

    @Test func aSlowWebhookNeitherDelaysThePassNorLosesTheEvent() async throws {
        let receiver = try WebhookReceiver(delaySeconds: 3)
        defer { receiver.stop() }
        let logs = CapturedLogs()
        let n = notifier(receiver.url, retries: 1, timeout: .milliseconds(500), logs: logs)
        let clock = TestClock()
        let redis = FakeObserver()
        redis.set(["batch0": (25, 0)])
        let cluster = FakeCluster(queues: [BatchQueue(metadata: ObjectMeta(name: "batch0", namespace: "court-listener", generation: 1),
                                                      spec: BatchQueueSpec(queue: "batch0", deployment: "celery-batch0"))])
        let r = Reconciler(config: .defaults, settings: .init(pollInterval: .seconds(1)), observer: redis, cluster: cluster,
                           notifier: n, logger: logs.logger, clock: { clock.now })
        await running(n) {
            // Many reminders while the webhook hangs: every pass still completes and records its Event.
            for _ in 0..<3 {
                let report = await r.reconcileOnce()
                #expect(report.failures.isEmpty)
                clock.advance(3_600)
            }
            #expect(cluster.events.map(\.reason) == ["OrphanedTasks", "OrphanedTasks", "OrphanedTasks"])
            #expect(await Wait.untilAsync(timeout: .seconds(30)) { logs.all.filter { $0.message.hasPrefix("Webhook failed") }.count == 3 })
        }
        #expect(receiver.bodies.count >= 2)   // each reminder: a timed-out attempt and its retry
    }
}

extension Wait {
    /// Polls `condition` (without blocking the cooperative pool) until it holds or `timeout` passes.
    static func untilAsync(timeout: Duration, interval: Duration = .milliseconds(50), _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            do {
                try await Task.sleep(for: interval)
            } catch {
                break   // cancelled: answer with what holds now
            }
        }
        return condition()
    }
}
