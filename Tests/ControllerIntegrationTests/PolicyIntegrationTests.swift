import BatchTesting
import Foundation
import Testing

/// The queue set and the rules in the cluster (issue 16), end to end: the built `batchctl`, KubeSim with the
/// project's CRDs and the BatchQueuePolicy `default`, a real redis-server and Celery producers. Writes an admin
/// makes go through the `admin` context (group batchctl:admins), a user's through `alice`, so the tests hold
/// with KubeSim's authorization on or off. Every wait is bounded by a condition.
@Suite(.serialized, .enabled(if: CeleryFixture.isAvailable, "needs the venv: make venv"))
struct PolicyIntegrationTests {
    static let batch4 = ProjectPaths.root + "/deploy/examples/queue-batch4.yaml"

    /// `batchctl ARGS` as `user`, with no configuration file (no --config, no $BATCHCTL_CONFIG).
    func batchctl(_ h: ControllerHarness, _ arguments: [String], as user: String = "alice") throws -> CommandResult {
        try Command.run(ProjectPaths.product("batchctl"), arguments + ["--kubeconfig", h.sim.kubeconfigPath, "--context", user, "-n", h.namespace],
                        environment: ["BATCHCTL_CONFIG": "", "HOME": h.sim.directory, "NO_COLOR": "", "COLUMNS": "200"])
    }

    @Test("a queue added with kubectl alone while the controller runs is probed and scaled; deleting it stops its probing")
    func aQueueAddedWithKubectlIsProbedAndScaled() throws {
        let h = try ControllerHarness()
        defer { h.stop() }
        let controller = try h.startController()
        #expect(Wait.until(timeout: .seconds(30)) { h.phase("batch0") == "Free" })
        #expect(h.phase("batch4") == nil)

        try h.sim.kubectlOK(["apply", "--validate=false", "-n", h.namespace, "-f", Self.batch4])   // as admin
        #expect(Wait.until(timeout: .seconds(30)) { h.phase("batch4") == "Free" })                 // probed: Redis read for it
        #expect(h.condition("batch4", "RedisReachable")?.status == "True")
        #expect(Wait.until(timeout: .seconds(10)) { controller.stderr.contains("added=batch4") })

        try h.claim("batch4", replicas: 2)
        #expect(Wait.until(timeout: .seconds(30)) { h.claimSeen("batch4") })
        #expect(try h.celery.produce(#"[{"queue": "batch4", "count": 6}]"#) == 6)
        #expect(Wait.until(timeout: .seconds(30)) { h.replicas("celery-batch4") == 2 })
        #expect(try h.scaleWrites("celery-batch4") == [2])
        #expect(h.phase("batch4") == "Running")

        try h.sim.kubectlOK(["delete", "batchqueue", "batch4", "-n", h.namespace])
        #expect(Wait.until(timeout: .seconds(30)) { controller.stderr.contains("removed=batch4") })
        #expect(h.phase("batch0") == "Free")                                                        // the others carry on
    }

    @Test("an admin sets maxDuration to 2h: the CLI refuses 3h naming 2h, and the controller clamps what kubectl wrote")
    func theClusterPolicyRulesTheCLIAndTheController() throws {
        let h = try ControllerHarness()
        defer { h.stop() }
        try h.startController()
        #expect(Wait.until(timeout: .seconds(30)) { h.condition("batch2", "PolicyDefaults")?.status == "False" })

        // A claim made with kubectl under the rules deploy/ installs (maxDuration 336h): 10 days.
        try h.claim("batch2", replicas: 2, expiresIn: 10 * 86_400)

        try h.sim.kubectlOK(["patch", "batchqueuepolicy", "default", "-n", h.namespace, "--type", "merge",
                             "-p", #"{"spec":{"reservations":{"defaultDuration":"1h","maxDuration":"2h"}}}"#])
        let refused = try batchctl(h, ["claim", "batch3", "--for", "3h"])
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("--for 3h is longer than the longest reservation, 2h (BatchQueuePolicy default, spec.reservations.maxDuration)"))
        #expect(h.reservation("batch3") == nil)
        // Past the CLI, the API server holds kubectl to the new rules too (the admission policy's param).
        #expect(throws: (any Error).self) { try h.claim("batch3", replicas: 2, expiresIn: 3 * 3600) }
        #expect(h.reservation("batch3") == nil)

        // The claim made before the rules changed: the controller clamps it to claimedAt + 2h, with a Warning Event.
        #expect(Wait.until(timeout: .seconds(30)) {
            guard let r = h.reservation("batch2"), let claimed = r.claimedAtSeconds, let expires = r.expiresAtSeconds else { return false }
            return expires == claimed + 7200
        })
        #expect(Wait.until(timeout: .seconds(10)) { (try? h.eventReasons("batch2"))?.contains("ReservationClamped") == true })
        let clamped = try #require(try h.events("batch2").first { $0.reason == "ReservationClamped" })
        #expect(clamped.type == "Warning")
        #expect(clamped.text?.contains("more than maxDuration (2h) after claimedAt") == true)

        // A new claim with a claimedAt a day in the future (a skewed client clock; idle time would be negative;
        // CEL has no clock, so the API server lets it in): clamped to the time the controller saw it.
        try h.release("batch2")
        let before = Int64(Date().timeIntervalSince1970)
        let f = ISO8601DateFormatter()
        let tomorrow = Date().addingTimeInterval(86_400)
        try h.sim.kubectlOK(["patch", "batchqueue", "batch2", "-n", h.namespace, "--type", "merge", "-p", """
            {"spec":{"reservation":{"holder":"alice","reason":"test","claimedAt":"\(f.string(from: tomorrow))",\
            "expiresAt":"\(f.string(from: tomorrow.addingTimeInterval(3600)))","replicas":2}}}
            """])
        #expect(Wait.until(timeout: .seconds(30)) {
            guard let r = h.reservation("batch2"), let claimed = r.claimedAtSeconds else { return false }
            return claimed < before + 86_400 - 60
        })
        let after = Int64(Date().timeIntervalSince1970)
        let r = try #require(h.reservation("batch2"))
        let claimed = try #require(r.claimedAtSeconds)
        #expect(claimed >= before - 1 && claimed <= after)
        #expect(try #require(r.expiresAtSeconds) <= claimed + 7200)

        // No BatchQueuePolicy: the embedded defaults, and a condition that says so.
        try h.sim.kubectlOK(["delete", "batchqueuepolicy", "default", "-n", h.namespace])
        #expect(Wait.until(timeout: .seconds(30)) { h.condition("batch2", "PolicyDefaults")?.reason == "NoBatchQueuePolicy" })
        #expect(h.condition("batch2", "PolicyDefaults")?.status == "True")
        // batchctl checks against the embedded defaults, but the API server refuses every BatchQueue write
        // without the param (parameterNotFoundAction: Deny; 422 Invalid, as a real API server answers), and
        // batchctl passes its message on (exit 2).
        let defaults = try batchctl(h, ["claim", "batch3", "--for", "3h"])
        #expect(defaults.status == 2, "\(defaults.stderr)")
        #expect(defaults.stderr.contains("denied request: failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction"), "\(defaults.stderr)")
        #expect(h.reservation("batch3") == nil)
    }
}
