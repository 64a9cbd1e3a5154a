import BatchTesting
import Foundation
import Testing

/// `batchctl remind` against KubeSim (with the controller filling in status from a real Redis) and a
/// webhook receiver on 127.0.0.1.
@Suite(.serialized) struct RemindCLITests {
    func remind(_ h: ControllerHarness, _ extra: [String], webhook: String?) throws -> CommandResult {
        var env = ["COLUMNS": "80", "BATCHCTL_CONFIG": "", "BATCHCTL_WEBHOOK_URL_FILE": ""]
        env["BATCHCTL_WEBHOOK_URL"] = webhook ?? ""
        return try Command.run(ProjectPaths.product("batchctl"),
                               ["remind", "--config", h.configPath, "--kubeconfig", h.sim.kubeconfigPath,
                                "--context", DeployPolicies.remindServiceAccount] + extra,
                               environment: env, timeout: .seconds(60))
    }

    @Test func dryRunPrintsTheDigestAndSendsNothing_thenARealRunPostsIt() throws {
        let h = try ControllerHarness()
        defer { h.stop() }
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        try h.claim("batch1", holder: "alice@example.org", replicas: 3, expiresIn: 2 * 3_600)
        _ = try h.redis.cli(["RPUSH", "batch2", "t1", "t2", "t3"])
        try h.startController()
        #expect(Wait.until(timeout: .seconds(30)) { h.phase("batch2") == "Orphaned" && h.phase("batch1") != nil })

        let dry = try remind(h, ["--dry-run"], webhook: receiver.url)
        #expect(dry.status == 0, "\(dry.stderr)")
        let lines = dry.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("batchctl digest for court-listener at ") == true)
        #expect(lines.first?.hasSuffix(": 1 of 4 queue(s) held, 1 free with tasks waiting.") == true)
        let batch1 = lines.first { $0.hasPrefix("batch1: ") } ?? ""
        #expect(batch1.contains("held by alice@example.org since "))
        #expect(batch1.contains(" UTC (in 2 h)") || batch1.contains(" UTC (in 1 h 5"))   // read up to a minute after a 2 h claim
        #expect(batch1.contains("Next: batchctl extend batch1 --for 1d"))
        #expect(lines.contains { $0.hasPrefix("batch2: free, but 3 task(s) wait") && $0.hasSuffix("Next: batchctl claim batch2") })
        #expect(lines.contains { $0.hasPrefix("batch0: free; replicas 0/0, depth 0.") })
        #expect(dry.stderr.contains("dry run: not posted to the webhook (http://127.0.0.1:\(receiver.port)/***)"))
        #expect(!(dry.stdout + dry.stderr).contains("secret-token"))
        // Its service account may get the BatchQueuePolicy `default` (deploy/base/rbac-remind.yaml): no fallback.
        #expect(!dry.stderr.contains("cannot read the BatchQueuePolicy"), "\(dry.stderr)")
        // The receiver logs a body before it answers, and a post is answered before remind exits: nothing to wait for.
        #expect(receiver.bodies.isEmpty)

        let real = try remind(h, [], webhook: receiver.url)
        #expect(real.status == 0, "\(real.stderr)")
        #expect(Wait.until(timeout: .seconds(10)) { receiver.bodies.count == 1 })
        #expect(receiver.texts.first == real.stdout.trimmingCharacters(in: .newlines))
    }

    @Test func aDeadWebhookExitsOneAfterPrinting() throws {
        let h = try ControllerHarness()
        defer { h.stop() }
        let port = try FreePort.next()
        let r = try remind(h, [], webhook: "http://127.0.0.1:\(port)/hooks/secret-token")
        #expect(r.status == 1)
        #expect(r.stdout.hasPrefix("batchctl digest for court-listener"))
        #expect(r.stderr.contains("could not be posted to the webhook (http://127.0.0.1:\(port)/***) after 4 attempt(s)"))
        #expect(!(r.stdout + r.stderr).contains("secret-token"))
    }
}
