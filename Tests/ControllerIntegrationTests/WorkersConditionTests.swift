import BatchTesting
import Foundation
import Testing

/// The controller's side of `batchctl doctor` (issue 22): a worker Deployment whose celery command consumes
/// another queue than its BatchQueue raises `WorkersMisconfigured`, with one Warning Event; fixed, the condition
/// clears with one Normal Event. The built binary against KubeSim and a real redis-server; waits bounded by conditions.
@Suite(.serialized, .enabled(if: CeleryFixture.isAvailable, "needs the venv: make venv"))
struct WorkersConditionTests {
    /// Sets the worker container's args of celery-batch1 with kubectl (a merge patch replaces the container list).
    func consume(_ h: ControllerHarness, _ queue: String) throws {
        let args = #"["celery", "-A", "app", "worker", "-Q", "\#(queue)", "--hostname", "celery@$(POD_NAME)"]"#
        try h.sim.kubectlOK(["patch", "deployment", "celery-batch1", "-n", h.namespace, "--type", "merge", "-p",
                             #"{"spec":{"template":{"spec":{"containers":[{"name":"worker","image":"celery-app:test","args":\#(args)}]}}}}"#])
    }

    /// `type reason` of the WorkersMisconfigured / WorkersOK Events on batch1, oldest first.
    func workersEvents(_ h: ControllerHarness) throws -> [String] {
        try h.events("batch1").compactMap { e -> (String, String)? in
            guard let reason = e.reason, ["WorkersMisconfigured", "WorkersOK"].contains(reason) else { return nil }
            return (e.time, "\(e.type ?? "") \(reason)")
        }.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// Waits for 10 more reconcile passes, so an Event repeated by later passes would show.
    func tenMorePasses(_ h: ControllerHarness) {
        let before = h.metric(#"batchctl_reconcile_total{result="ok"}"#) ?? 0
        #expect(Wait.until(timeout: .seconds(60)) { (h.metric(#"batchctl_reconcile_total{result="ok"}"#) ?? 0) >= before + 10 })
    }

    @Test("celery-batch1 patched to -Q batch9: WorkersMisconfigured with one Warning; patched back: cleared with one Normal Event")
    func theConditionFollowsTheMisconfigurationOneEventEachWay() throws {
        let h = try ControllerHarness()
        defer { h.stop() }
        try h.startController()
        #expect(Wait.until(timeout: .seconds(30)) { h.phase("batch1") == "Free" })
        // The harness's Deployments set no command (their image's own runs): nothing to check, no condition.
        #expect(h.condition("batch1", "WorkersMisconfigured") == nil)

        try consume(h, "batch1")
        #expect(Wait.until(timeout: .seconds(30)) { h.condition("batch1", "WorkersMisconfigured")?.reason == "WorkersOK" })
        #expect(h.condition("batch1", "WorkersMisconfigured")?.status == "False")

        try consume(h, "batch9")
        #expect(Wait.until(timeout: .seconds(30)) { h.condition("batch1", "WorkersMisconfigured")?.status == "True" })
        let bad = try #require(h.condition("batch1", "WorkersMisconfigured"))
        #expect(bad.reason == "WrongQueue")
        #expect((bad.message)?.hasPrefix("celery-batch1 -Q: consumes batch9, but its BatchQueue's spec.queue is batch1; fix: make the worker command '-Q batch1'") == true, "\(bad)")
        tenMorePasses(h)
        #expect(try workersEvents(h) == ["Warning WorkersMisconfigured"])

        try consume(h, "batch1")
        #expect(Wait.until(timeout: .seconds(30)) { h.condition("batch1", "WorkersMisconfigured")?.status == "False" })
        #expect(h.condition("batch1", "WorkersMisconfigured")?.reason == "WorkersOK")
        tenMorePasses(h)
        #expect(try workersEvents(h) == ["Warning WorkersMisconfigured", "Normal WorkersOK"])
        #expect(h.condition("batch0", "WorkersMisconfigured") == nil)     // the other queues are untouched
    }
}
