import BatchTesting
import Foundation
import Testing

/// `kubesim demo` end to end, as a newcomer runs it (fewer tasks): the real binary, redis-server, KubeSim's
/// kubelet running real Celery workers, `batchctl controller` as a child process.
@Suite("kubesim demo", .serialized, .enabled(if: CeleryFixture.isAvailable, "needs the venv (make deps)"))
struct DemoTests {
    /// The milestones every run must reach, in this order (`reachedCeiling` depends on how fast workers start).
    static let requiredPhases = ["started", "claimed", "tasksSent", "firstWorker", "drained", "sleeping", "wakeTasksSent",
                                 "woke", "wakeWorker", "wakeDrained", "released", "releasedToZero", "orphanTasksSent",
                                 "orphaned", "orphanReminder", "finished"]

    @Test func scenarioReachesEveryPhaseInOrderRunsEachTaskOnceAndLeavesNoProcess() throws {
        let run = try DemoRun(arguments: ["--tasks", "40", "--wake-tasks", "8"])
        let status = run.process.waitForExit(timeout: .seconds(300))
        if status == nil { run.process.stop(grace: .seconds(30)) }
        #expect(status == 0, "kubesim demo exited with \(String(describing: status)):\n\(run.output)")
        let timeline = try run.timeline()
        #expect(timeline["result"] as? String == "ok", "\(timeline["message"] ?? "")")

        // Phases: the JSON lists them by time; the required ones appear in the story's order.
        let phases = (timeline["phases"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        let seen = phases.filter { Self.requiredPhases.contains($0) }
        #expect(seen == Self.requiredPhases, "phases by time: \(phases)")
        let seconds = (timeline["phases"] as? [[String: Any]] ?? []).compactMap { $0["seconds"] as? Double }
        #expect(seconds == seconds.sorted())

        // Every task that workers could run completed exactly once (40 + 8; batch2's orphans never run).
        let tasks = timeline["tasks"] as? [String: Any] ?? [:]
        #expect(tasks["sent"] as? Int == 48)
        #expect(tasks["completedOnce"] as? Int == 48)
        #expect(tasks["completed"] as? Int == 48)
        #expect((tasks["duplicates"] as? [String])?.isEmpty == true, "duplicates: \(tasks["duplicates"] ?? "")")
        #expect((tasks["missing"] as? [String])?.isEmpty == true, "missing: \(tasks["missing"] ?? "")")

        // The replicas ramped in steps of one: 1, 2, ... (the demo's rampUp.step), then back to 0.
        let steps = (timeline["replicaSteps"] as? [[String: Any]] ?? []).compactMap { $0["replicas"] as? Int }
        let firstRamp = Array(steps.drop { $0 == 0 }.prefix { $0 > 0 })
        #expect(firstRamp.first == 1 && zip(firstRamp, firstRamp.dropFirst()).allSatisfy { $1 == $0 + 1 }, "replica steps: \(steps)")
        #expect(steps.last == 0)

        // The reminders the story promises arrived through the webhook.
        let reminders = (timeline["reminders"] as? [[String: Any]] ?? []).map { "\($0["reason"] ?? "") \($0["queue"] ?? "")" }
        #expect(reminders.contains("OrphanedTasks batch2"), "reminders: \(reminders)")
        #expect(reminders.contains("QueueSleeping batch1"), "reminders: \(reminders)")

        try run.expectNothingLeft(timeline)
        #expect(run.output.contains("Timeline (seconds since start):"))
    }

    @Test func ctrlCMidwayStopsEveryProcessItStarted() throws {
        let run = try DemoRun(arguments: ["--tasks", "200"])
        // Midway: once worker pods (celery processes of the demo) run.
        let workersRunning = Wait.until(timeout: .seconds(180), interval: .milliseconds(200)) {
            !run.process.isRunning || run.survivors().contains { $0.value.contains("celery") && $0.value.contains("worker") }
        }
        #expect(workersRunning, "no worker pod started:\n\(run.output)")
        run.process.signal(SIGINT)
        let status = run.process.waitForExit(timeout: .seconds(120))
        if status == nil { run.process.stop(grace: .seconds(30)) }
        #expect(status == 130, "kubesim demo exited with \(String(describing: status)) after SIGINT:\n\(run.output)")
        let timeline = try run.timeline()
        #expect(timeline["result"] as? String == "interrupted")
        #expect((timeline["podProcessGroups"] as? [Int])?.isEmpty == false, "no pod was recorded")
        try run.expectNothingLeft(timeline)
    }
}

/// One `kubesim demo` child process with a marker in its environment, which every process it starts inherits
/// (redis-server, the controller, the producers, the kubelet's pods and their Celery pool processes).
final class DemoRun {
    let directory: TemporaryDirectory
    let marker = UUID().uuidString
    let process: ChildProcess
    var timelinePath: String { directory.path + "/timeline.json" }

    init(arguments: [String]) throws {
        directory = try TemporaryDirectory(prefix: "demo-test")
        process = try ChildProcess(
            name: "kubesim-demo", executable: ProjectPaths.product("kubesim"),
            arguments: ["demo", "--timeline-json", directory.path + "/timeline.json", "--project-dir", ProjectPaths.root] + arguments,
            environment: ["BATCHCTL_DEMO_TEST_MARK": marker], logDirectory: directory.path)
    }

    /// What the demo printed.
    var output: String { String((process.stdout + process.stderr).suffix(8000)) }

    func timeline() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: timelinePath))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Processes (pid → command line) whose environment carries this run's marker.
    func survivors() -> [Int32: String] {
        var found: [Int32: String] = [:]
        let needle = Array("BATCHCTL_DEMO_TEST_MARK=\(marker)".utf8)
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), pid != getpid(), ChildProcess.isAlive(pid),
                  let environ = FileManager.default.contents(atPath: "/proc/\(entry)/environ") else { continue }
            let variables = Array(environ).split(separator: 0)
            guard variables.contains(where: { Array($0) == needle }) else { continue }
            let cmdline = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") ?? Data()
            found[pid] = String(decoding: cmdline.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
        }
        return found
    }

    /// Nothing the demo started runs any more: no process with the marker, no pid or pod process group it recorded.
    func expectNothingLeft(_ timeline: [String: Any]) throws {
        // Bounded: a process killed a moment ago may still be exiting.
        let clean = Wait.until(timeout: .seconds(10), interval: .milliseconds(200)) { survivors().filter { $0.key != process.pid }.isEmpty }
        #expect(clean, "still running: \(survivors())")
        let pids = (timeline["pids"] as? [Int] ?? []).map(Int32.init)
        #expect(pids.count >= 3, "recorded pids: \(pids)")   // redis-server, the controller, commands
        #expect(pids.filter { ChildProcess.isAlive($0) }.isEmpty, "alive: \(pids.filter { ChildProcess.isAlive($0) })")
        for group in (timeline["podProcessGroups"] as? [Int] ?? []).map(Int32.init) {
            #expect(kill(-group, 0) != 0, "pod process group \(group) still has processes")
        }
        #expect(!FileManager.default.fileExists(atPath: timeline["directory"] as? String ?? "/nonexistent"), "the demo's directory remains")
    }

    deinit { process.stop(grace: .seconds(30)) }
}
