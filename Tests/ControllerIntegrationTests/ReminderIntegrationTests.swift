import BatchTesting
import Foundation
import Testing

/// Reminders end to end: real Redis, KubeSim, `batchctl controller` processes and a webhook receiver on
/// 127.0.0.1. The clock is the real one; claims are written so that thresholds fall a few seconds after
/// the controller starts (a 1 h + 4 s claim with `expiringBefore: [1h]`), so nothing waits long.
@Suite(.serialized) struct ReminderIntegrationTests {
    @Test("each reminder is sent once, as an Event and to the webhook; a failover and a restart repeat none")
    func onceAcrossFailoverAndRestart() throws {
        let h = try ControllerHarness(config: "reminders: {expiringBefore: [1h], orphanedEvery: 1h}")
        defer { h.stop() }
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        let env = ["BATCHCTL_WEBHOOK_URL": receiver.url, "BATCHCTL_WEBHOOK_URL_FILE": ""]
        _ = try h.redis.cli(["RPUSH", "batch2", "t1", "t2"])               // tasks nobody claimed
        try h.claim("batch1", holder: "alice@example.org", replicas: 1, expiresIn: 3_600 + 4)
        let a = try h.startController(environment: env)
        #expect(Wait.until(timeout: .seconds(20)) { h.leaseHolder()?.hasPrefix("controller-0_") == true })
        _ = try h.startController(environment: env)                         // the standby
        #expect(Wait.until(timeout: .seconds(30)) {
            (try? h.eventReasons("batch1"))?.contains("ReservationExpiringSoon") == true
                && (try? h.eventReasons("batch2"))?.contains("OrphanedTasks") == true
        })
        #expect(Wait.until(timeout: .seconds(20)) { receiver.bodies.count >= 3 })
        // Failover: the leader stops, the standby leads on the same status.
        a.stop(grace: .seconds(10))
        #expect(Wait.until(timeout: .seconds(10)) { h.leaseHolder()?.hasPrefix("controller-1_") == true })
        #expect(h.waitForPasses(15))
        // Restart: a third controller (it may take over too; nothing it decides repeats).
        _ = try h.startController(environment: env)
        #expect(h.waitForPasses(15))
        #expect(try h.eventReasons("batch1").filter { $0 == "ReservationExpiringSoon" }.count == 1)
        #expect(try h.eventReasons("batch1").filter { $0 == "QueueSleeping" }.count == 1)
        #expect(try h.eventReasons("batch2").filter { $0 == "OrphanedTasks" }.count == 1)
        let texts = receiver.texts
        #expect(texts.count == 3, "\(texts)")   // expiring soon, sleeping (idleAfter is 3 s here), orphaned
        #expect(texts.contains { $0.hasPrefix("batch1 (held by alice@example.org) has had no tasks since ") && $0.contains("batchctl release batch1") })
        #expect(texts.contains { $0.hasPrefix("batch1 is held by alice@example.org until ") && ($0.contains("(in 59 min)") || $0.contains("(in 1 h)")) && $0.contains("batchctl extend batch1 --for 1d") })
        #expect(texts.contains { $0.hasPrefix("2 task(s) are waiting on batch2") })
        #expect(try h.queueObject("batch1").status?.reminders?.expiringSent == [3_600])
        for c in h.controllers { #expect(!c.stderr.contains("secret-token")) }
    }

    @Test("a dead webhook: retried, dropped with a warning; Events are written and scaling goes on")
    func deadWebhook() throws {
        let h = try ControllerHarness(config: "webhook: {timeout: 1s, retries: 1}")
        defer { h.stop() }
        let port = try FreePort.next()   // nothing listens
        let c = try h.startController(environment: ["BATCHCTL_WEBHOOK_URL": "http://127.0.0.1:\(port)/hooks/secret-token",
                                                    "BATCHCTL_WEBHOOK_URL_FILE": ""])
        // batch1 is claimed before it gets tasks, and the controller has seen the claim: tasks on it before that
        // would rightly make it Orphaned too, and its reminder would fail first.
        try h.claim("batch1", replicas: 2)
        #expect(Wait.until(timeout: .seconds(30)) { h.claimSeen("batch1") })
        _ = try h.redis.cli(["RPUSH", "batch2", "t1"])
        _ = try h.redis.cli(["RPUSH", "batch1", "t1", "t2", "t3"])
        #expect(Wait.until(timeout: .seconds(30)) { (try? h.eventReasons("batch2")) == ["OrphanedTasks"] })
        #expect(Wait.until(timeout: .seconds(30)) { h.replicas("celery-batch1") == 2 })
        #expect(Wait.until(timeout: .seconds(30)) { c.stderr.contains("Webhook failed; reminder dropped") })
        let log = c.stderr
        let warnings = log.split(separator: "\n").filter { $0.contains("Webhook failed") }
        #expect(warnings.contains { $0.contains("batchqueue=batch2") && $0.contains("kind=OrphanedTasks") && $0.contains("attempts=2") },
                "the warnings: \(warnings)\nthe log's end:\n\(log.suffix(3000))")
        #expect(!c.stderr.contains("secret-token"))
        #expect(Wait.until(timeout: .seconds(10)) { h.metric(#"batchctl_webhook_notifications_total{result="failed"}"#) == 1 })
    }
}
