import BatchTesting
import Foundation
import LocalProcesses
import Testing

/// Issue 19 end to end: hostile heartbeats, BatchQueues that do not decode, and a leader whose Lease
/// writes are delayed past the lease duration. Real redis-server, real Celery, KubeSim, the built binary.
@Suite(.serialized, .enabled(if: CeleryFixture.isAvailable, "needs the venv: make venv"))
struct HardeningTests {
    /// Resident memory of a process, from /proc (KiB).
    func rssKiB(_ pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        let line = text.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
        return line.flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") }
    }

    func kubectlOK(_ h: ControllerHarness, _ arguments: [String], stdin: String? = nil) throws {
        let r = try h.sim.kubectl(arguments, stdin: stdin)
        #expect(r.status == 0, "kubectl \(arguments): \(r.stderr)")
    }

    /// What one run decided, as the cluster shows it.
    struct Run: Equatable {
        var scaleWrites: [Int]
        var busyWorkers: [Int?]
        var phases: [String?]
    }

    /// Claim with work (ramp 2 → 4), then the queue drains (→ Sleeping, 0). With `hostile`, real Celery's
    /// EventDispatcher floods the broker before and during the run.
    func rampAndSleep(hostile: Bool, rss: inout [Int]) throws -> Run {
        let h = try ControllerHarness()
        defer { h.stop() }
        let controller = try h.startController()
        var busy: [Int?] = []
        var phases: [String?] = []
        let hostileSpec = #"""
            [{"hostname": "celery@celery-batch1-5d8f7c9b4-zzzzz", "fields": {"active": 9223372036854775807, "freq": 1e300}},
             {"hostname": "worker@celery-batch1-5d8f7c9b4-yyyyy", "fields": {"active": 9223372036854775807, "freq": 1e300}},
             {"hostname": "celery@NOT_A_POD\u001b[31m", "fields": {"active": 5, "freq": -1}},
             {"hostname": "celery@flood", "count": 10000, "distinct": true, "fields": {"active": 3, "freq": 1e300, "processed": 1e300}}]
            """#
        if hostile {
            #expect(try h.celery.sendWorkerEvents(hostileSpec) == 10_003)
        }
        try h.claim("batch1", replicas: 4)
        #expect(Wait.until(timeout: .seconds(30)) { h.claimSeen("batch1") })
        #expect(try h.celery.produce(#"[{"queue": "batch1", "count": 40}]"#) == 40)
        #expect(Wait.until(timeout: .seconds(30)) { h.replicas("celery-batch1") == 4 })
        busy.append(h.busyWorkers("batch1"))
        phases.append(h.phase("batch1"))
        if hostile {
            #expect(try h.celery.sendWorkerEvents(hostileSpec) == 10_003)
            #expect(controller.isRunning)
        }
        if let kib = rssKiB(controller.pid) { rss.append(kib) }
        _ = try h.redis.cli(["DEL", "batch1"])
        #expect(Wait.until(timeout: .seconds(30)) { h.phase("batch1") == "Sleeping" })
        busy.append(h.busyWorkers("batch1"))
        phases.append(h.phase("batch1"))
        #expect(controller.isRunning, "the controller stays up: \(controller.stderr.suffix(2000))")
        if let kib = rssKiB(controller.pid) { rss.append(kib) }
        return Run(scaleWrites: try h.scaleWrites("celery-batch1"), busyWorkers: busy, phases: phases)
    }

    @Test("hostile heartbeats from Celery's EventDispatcher (active 2^63−1, freq 1e300, foreign and 10,000 distinct hostnames): same decisions, bounded memory")
    func hostileHeartbeatsChangeNothing() throws {
        var cleanRSS: [Int] = [], hostileRSS: [Int] = []
        let clean = try rampAndSleep(hostile: false, rss: &cleanRSS)
        let hostile = try rampAndSleep(hostile: true, rss: &hostileRSS)
        #expect(clean.scaleWrites == [2, 4, 0])
        #expect(hostile == clean)
        #expect(hostile.busyWorkers.allSatisfy { ($0 ?? 0) == 0 })
        // The controller's limit in deploy/ is 96 MiB; the registry keeps at most 4096 workers.
        let peak = hostileRSS.max() ?? 0
        print("controller RSS KiB: clean \(cleanRSS), hostile \(hostileRSS)")
        #expect(peak > 0 && peak < 96 * 1024)
    }

    @Test("a BatchQueue with a field that does not decode: the others reconcile; /readyz, the log and an Event name it")
    func undecodableBatchQueueIsSkippedAndNamed() throws {
        let h = try ControllerHarness()
        defer { h.stop() }
        // The API server validates against the CRD's schema, so such an object is one stored under an older,
        // looser schema: a CRD change does not revalidate stored objects. Loosen two fields, write, restore.
        let fields = "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties"
        func original(_ field: String) throws -> String {
            let r = try h.sim.kubectl(["get", "crd", "batchqueues.batchctl.dev", "-o",
                                       "jsonpath={.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.\(field)}"])
            #expect(r.status == 0 && r.stdout.hasPrefix("{"), "\(r.stderr)")
            return r.stdout
        }
        let strict = (maxReplicas: try original("maxReplicas"), paused: try original("paused"))
        try kubectlOK(h, ["patch", "crd", "batchqueues.batchctl.dev", "--type", "json", "-p", """
            [{"op": "replace", "path": "\(fields)/maxReplicas", "value": {"x-kubernetes-int-or-string": true}},
             {"op": "replace", "path": "\(fields)/paused", "value": {"x-kubernetes-int-or-string": true}}]
            """])
        // Stored before the controller starts (the first list) ...
        try kubectlOK(h, ["apply", "--validate=false", "-n", h.namespace, "-f", "-"], stdin: """
            apiVersion: batchctl.dev/v1alpha1
            kind: BatchQueue
            metadata: {name: broken}
            spec: {queue: broken, deployment: celery-batch0, maxReplicas: "many"}
            """)
        let controller = try h.startController()
        func readyz() -> String { (try? HTTPGet.text("http://127.0.0.1:\(h.metricsPorts[0])/readyz").body) ?? "" }
        #expect(readyz().contains("skipped: BatchQueue broken does not decode (.spec.maxReplicas"))
        // ... and one broken while it runs (a watch event).
        try kubectlOK(h, ["patch", "batchqueue", "batch2", "-n", h.namespace, "--type", "merge", "-p", #"{"spec":{"paused":"sometimes"}}"#])
        #expect(Wait.until(timeout: .seconds(30)) { readyz().contains("skipped: BatchQueue batch2 does not decode") })
        try kubectlOK(h, ["patch", "crd", "batchqueues.batchctl.dev", "--type", "json", "-p", """
            [{"op": "replace", "path": "\(fields)/maxReplicas", "value": \(strict.maxReplicas)},
             {"op": "replace", "path": "\(fields)/paused", "value": \(strict.paused)}]
            """])
        // The others keep reconciling.
        try h.claim("batch1", replicas: 2)
        #expect(Wait.until(timeout: .seconds(30)) { h.claimSeen("batch1") })
        #expect(try h.celery.produce(#"[{"queue": "batch1", "count": 5}]"#) == 5)
        #expect(Wait.until(timeout: .seconds(30)) { h.replicas("celery-batch1") == 2 })
        #expect(Wait.until(timeout: .seconds(30)) { (try? h.eventReasons("broken"))?.contains("InvalidBatchQueue") == true })
        #expect(Wait.until(timeout: .seconds(30)) { (try? h.eventReasons("batch2"))?.contains("InvalidBatchQueue") == true })
        #expect(Wait.until(timeout: .seconds(10)) { h.metric(#"batchctl_undecodable_objects{kind="BatchQueue"}"#) == 2 })
        #expect(controller.stderr.contains("broken"))
        // Fixed: it is reconciled again and no longer named.
        try kubectlOK(h, ["patch", "batchqueue", "batch2", "-n", h.namespace, "--type", "merge", "-p", #"{"spec":{"paused":false}}"#])
        #expect(Wait.until(timeout: .seconds(30)) { !readyz().contains("batch2") })
        #expect(controller.isRunning)
    }

    @Test("the leader's Lease writes delayed past the lease duration: it writes nothing after the new leader's first write")
    func delayedLeaseWritesFenceTheOldLeader() throws {
        let h = try ControllerHarness()
        defer { h.stop() }
        let timings = ["--leader-elect-lease-duration", "4s", "--leader-elect-renew-deadline", "3s", "--leader-elect-retry-period", "500ms"]
        let a = try h.startController(arguments: timings, asServiceAccount: false)          // admin
        #expect(Wait.until(timeout: .seconds(30)) { h.leaseHolder()?.hasPrefix("controller-0") == true })
        let b = try h.startController(arguments: timings, asServiceAccount: true)          // the ServiceAccount
        try h.claim("batch1", replicas: 2)
        #expect(Wait.until(timeout: .seconds(30)) { h.claimSeen("batch1") })
        _ = try h.redis.cli(["RPUSH", "batch1", "x"])
        #expect(Wait.until(timeout: .seconds(30)) { h.replicas("celery-batch1") == 2 })
        let b0 = ControllerHarness.serviceAccount
        // From here every admin write is controller 0's: the test's own writes are done.
        try h.sim.setFaults("update /apis/coordination.k8s.io/v1/namespaces/*/leases/* latencyMs=30000,user=admin")
        // Work that changes every 400 ms, so whichever replica leads keeps writing status (the pauses are the
        // workload's rhythm, the test's input, not waits for a result).
        var toggled = 0
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && h.leaseHolder()?.hasPrefix("controller-1") != true {
            _ = try h.redis.cli(toggled % 2 == 0 ? ["DEL", "batch1"] : ["RPUSH", "batch1", "x"])
            toggled += 1
            Thread.sleep(forTimeInterval: 0.4)
        }
        #expect(h.leaseHolder()?.hasPrefix("controller-1") == true)
        for i in 0..<10 {   // the new leader works for a while: the old one must stay silent
            _ = try h.redis.cli(i % 2 == 0 ? ["DEL", "batch1"] : ["RPUSH", "batch1", "x"])
            Thread.sleep(forTimeInterval: 0.4)
        }
        try h.sim.setFaults("")
        let writes = try h.sim.requests().filter { $0.isWrite && !$0.path.contains("/leases/") && $0.path.contains("/namespaces/") }
        let firstOfNew = try #require(writes.first { $0.user == b0 }?.time)
        let oldAfter = writes.filter { $0.user == "admin" && $0.time >= firstOfNew }
        #expect(oldAfter.isEmpty, "old leader wrote after the new leader's first write (\(firstOfNew)): \(oldAfter.map { "\($0.time) \($0.method) \($0.path)" })")
        #expect(writes.contains { $0.user == "admin" })    // it did write while it led
        #expect(a.isRunning && b.isRunning)
    }
}
