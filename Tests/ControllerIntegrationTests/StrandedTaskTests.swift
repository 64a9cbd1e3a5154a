import BatchTesting
import Foundation
import Testing

/// Issue 23 end to end: KubeSim's kubelet runs real `celery worker` processes with `acks_late` and a
/// 30 s `visibility_timeout` (the controller's `celery.visibilityTimeout` says the same), and
/// `batchctl controller` scales them. Tasks record "start ID POD" and "done ID POD" in a side-effect file.
@Suite(.serialized, .enabled(if: CeleryFixture.isAvailable, "needs the venv: make venv"))
struct StrandedTaskTests {
    static let queue = "batch1"
    static let deployment = "celery-batch1"

    struct Markers {
        let path: String
        func lines() -> [(String, String, String)] {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { line in
                let f = line.split(separator: " ").map(String.init)
                return f.count == 3 ? (f[0], f[1], f[2]) : nil
            }
        }
        func count(_ what: String, _ id: String) -> Int { lines().filter { $0.0 == what && $0.1 == id }.count }
        func pod(_ what: String, _ id: String) -> String? { lines().first { $0.0 == what && $0.1 == id }?.2 }
    }

    static func harness(prefetchMultiplier: Int = 1) throws -> (ControllerHarness, Markers) {
        let h = try ControllerHarness(config: "rampUp: {step: 2, every: 0s}\nidleAfter: 5s\ncelery: {visibilityTimeout: 30s}",
                                      workers: .init(terminationGracePeriodSeconds: 3, acksLate: true,
                                                     transportOptions: #"{"visibility_timeout": 30}"#, prefetchMultiplier: prefetchMultiplier))
        let markers = Markers(path: h.directory.path + "/markers.txt")
        try "".write(toFile: markers.path, atomically: true, encoding: .utf8)
        return (h, markers)
    }

    static func send(_ h: ControllerHarness, _ markers: Markers, _ id: String, seconds: Double, countdown: Int? = nil) throws {
        let eta = countdown.map { #", "countdown": \#($0)"# } ?? ""
        try h.celery.produce(#"[{"queue": "\#(queue)", "count": 1, "task": "fixture.marker", "args": ["\#(id)", \#(seconds), "\#(markers.path)"]\#(eta)}]"#)
    }

    static func status(_ h: ControllerHarness) -> QueueObject.Status {
        (try? h.queueObject(queue))?.status ?? QueueObject.Status()
    }

    static func eventMessages(_ h: ControllerHarness, reason: String) -> [String] {
        ((try? h.events(queue)) ?? []).filter { $0.reason == reason }.compactMap(\.text)
    }

    @Test("a worker SIGKILLed mid-task: the queue sleeps while the task is stranded, wakes at its redelivery, the task completes once")
    func strandedTaskSleepsThenWakes() throws {
        let (h, markers) = try Self.harness()
        defer { h.stop() }
        try h.startController()
        try h.claim(Self.queue, replicas: 1)
        #expect(Wait.until(timeout: .seconds(60), interval: .milliseconds(300)) { h.claimSeen(Self.queue) })
        try Self.send(h, markers, "long", seconds: 20)
        #expect(Wait.until(timeout: .seconds(90), interval: .milliseconds(300)) { markers.count("start", "long") == 1 }, "the task did not start")
        let startedAt = Date()
        let pod = try #require(markers.pod("start", "long"))
        // Held while its worker lives: in flight, not stranded.
        #expect(Wait.until(timeout: .seconds(30), interval: .milliseconds(300)) { Self.status(h).inFlight == 1 })
        #expect(Self.status(h).stranded == nil)
        // SIGKILL 8 s into the task, so that the replacement worker starts more than the 5 s skew
        // margin after the delivery.
        _ = Wait.until(timeout: .seconds(10), interval: .milliseconds(200)) { Date().timeIntervalSince(startedAt) >= 8 }
        // Taken before the kill: killPod scans /proc after sending it, which can take a while on a loaded machine,
        // so the times measured from here are upper bounds.
        let killedAt = Date()
        #expect(h.killPod(pod) > 0)

        // Stranded: the queue sleeps before the redelivery time (delivery + 30 s).
        let slept = Wait.until(timeout: .seconds(60), interval: .milliseconds(200)) {
            h.replicas(Self.deployment) == 0 && Self.status(h).phase == "Sleeping"
        }
        #expect(slept, "status: \(Self.status(h))")
        let sleptAfter = Date().timeIntervalSince(killedAt)
        let s = Self.status(h)
        // Measured, not asserted (timing depends on the machine): issue 23 asks for idleAfter (5 s) + 2 polls (0.4 s).
        // Times come from the controller (status.lastActiveAt: the pass that first saw no work; metav1.Time-style,
        // so truncated to the second) and from KubeSim's request log (the scale-to-zero write, to the microsecond),
        // not from this test's 200 ms polling.
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let lastActive = s.lastActiveAt.flatMap { fractional.date(from: $0) ?? ISO8601DateFormatter().date(from: $0) }
        let zeroWrite = (try? h.timedScaleWrites(Self.deployment))?.last { $0.replicas == 0 }?.time
        let seconds = { (d: Date?) in d.map { String(format: "%.2f", $0.timeIntervalSince(killedAt)) } ?? "?" }
        print("StrandedTaskTests: SIGKILL → controller saw no work \(seconds(lastActive)) s (status.lastActiveAt, whole seconds) → scale-to-zero write \(seconds(zeroWrite)) s"
              + " (bound: idleAfter 5 s + 2 polls of 200 ms = 5.40 s); test saw Sleeping at \(String(format: "%.2f", sleptAfter)) s")
        #expect(s.stranded == 1, "\(s)")
        #expect(s.inFlight == 1)
        let redelivery = try #require((s.strandedRedeliveryAt).flatMap { ISO8601DateFormatter().date(from: $0) })
        #expect(redelivery > Date(), "slept \(sleptAfter) s after the kill, before the redelivery at \(redelivery)")
        #expect(redelivery.timeIntervalSince(startedAt) < 32 && redelivery.timeIntervalSince(startedAt) > 25)
        let condition = h.condition(Self.queue, "TasksStranded")
        #expect(condition?.status == "True")
        #expect(Wait.until(timeout: .seconds(20), interval: .milliseconds(300)) { !Self.eventMessages(h, reason: "TasksStranded").isEmpty })
        let message = Self.eventMessages(h, reason: "TasksStranded").first ?? ""
        #expect(message.hasPrefix("1 task on batch1 was held by a worker that died"), "\(message)")
        #expect(message.contains("visibility_timeout 30s") && message.contains("Workers sleep until then"), "\(message)")
        #expect(h.metric(#"batchctl_stranded_tasks{queue="batch1"}"#) == 1)

        // Redelivery time: a worker starts, kombu's start-up sweep puts the task back, and it completes once.
        let done = Wait.until(timeout: .seconds(150), interval: .milliseconds(500)) { markers.count("done", "long") >= 1 }
        #expect(done, "status: \(Self.status(h)); markers: \(markers.lines())")
        #expect(markers.count("start", "long") == 2, "started by the killed worker, then once more after redelivery")
        #expect(markers.count("done", "long") == 1)
        #expect(h.phase(Self.queue).map { ["Running", "Sleeping"].contains($0) } == true)
        #expect(Wait.until(timeout: .seconds(30), interval: .milliseconds(300)) { Self.status(h).stranded == nil })
    }

    @Test("held in flight is unchanged: a live worker holding an ETA task 60 s ahead and a prefetched task keeps its pod")
    func heldInFlightKeepsItsWorker() throws {
        let (h, markers) = try Self.harness(prefetchMultiplier: 2)
        defer { h.stop() }
        try h.startController()
        try Self.send(h, markers, "eta", seconds: 1, countdown: 60)
        try Self.send(h, markers, "long", seconds: 12)
        try Self.send(h, markers, "short", seconds: 1)
        try h.claim(Self.queue, replicas: 1)
        #expect(Wait.until(timeout: .seconds(90), interval: .milliseconds(300)) { markers.count("start", "long") == 1 }, "the long task did not start")
        let pod = try #require(markers.pod("start", "long"))
        // The worker runs "long", has "short" prefetched and holds "eta": three in flight, none stranded.
        #expect(Wait.until(timeout: .seconds(20), interval: .milliseconds(300)) { Self.status(h).inFlight == 3 }, "\(Self.status(h))")
        #expect(Self.status(h).stranded == nil)
        #expect(Wait.until(timeout: .seconds(60), interval: .milliseconds(300)) { markers.count("done", "short") == 1 })
        // Now only the ETA task is held (no depth, no busy worker): for idleAfter (5 s) and well past it,
        // the pod stays and nothing is called stranded.
        var heldThroughout = true
        _ = Wait.until(timeout: .seconds(15), interval: .milliseconds(500)) {
            if markers.count("start", "eta") > 0 { return true }
            if h.replicas(Self.deployment) != 1 || !h.pods(Self.deployment).contains(pod) || Self.status(h).stranded != nil { heldThroughout = false }
            return false
        }
        #expect(heldThroughout, "status: \(Self.status(h))")
        #expect(Self.status(h).inFlight == 1)
        #expect(h.condition(Self.queue, "TasksStranded") == nil)
    }
}
