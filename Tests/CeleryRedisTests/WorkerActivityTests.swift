@testable import BatchCore
import BatchTesting
import CeleryRedis
import Foundation
import Testing

/// Worker heartbeats from a real Celery 5.7 worker, and the probe across a Redis restart.
@Suite(.serialized, .enabled(if: CeleryFixture.isAvailable, "needs the venv: make venv"))
struct WorkerActivityTests {
    @Test("a worker running a long task reports active 1, then 0 when it is done", arguments: [
        CeleryLayout.default,
        CeleryLayout(globalKeyPrefix: "court:", separator: "\u{06}\u{16}", prioritySteps: [0, 3, 6, 9]),
    ])
    func heartbeatsShowActiveTasks(layout: CeleryLayout) async throws {
        let server = try RedisServer(password: "hb-pass")
        let logs = try TemporaryDirectory(prefix: "celery")
        // Database 2, so the channel's /<db> part is exercised too.
        let broker = "redis://:hb-pass@127.0.0.1:\(server.port)/2"
        let transport = layout.globalKeyPrefix.isEmpty ? "{}" : #"{"global_keyprefix": "\#(layout.globalKeyPrefix)"}"#
        let celery = CeleryFixture(brokerURL: broker, transportOptions: transport)
        let listener = WorkerActivityListener(options: options(server, database: 2), layout: layout)
        listener.start()
        defer { listener.stop() }

        let hostname = "celery@celery-batch1-6f7c9d8b5-hb001"
        let worker = try celery.startWorker(queues: ["batch1"], hostname: hostname, logDirectory: logs.path)
        defer { worker.stop(grace: .seconds(10)) }
        let online = await eventually(timeout: .seconds(90), interval: .milliseconds(100)) {
            listener.workers().contains { $0.hostname == hostname && $0.active == 0 }
        }
        #expect(online, "listener: \(listener.lastError ?? "no error"); worker log: \(worker.stderr)")
        #expect(listener.workers().first?.freq == 2.0)

        try celery.produce(#"[{"queue": "batch1", "count": 1, "task": "fixture.sleep", "args": [8]}]"#)
        let busy = await eventually(timeout: .seconds(60), interval: .milliseconds(100)) {
            listener.workers().contains { $0.hostname == hostname && $0.active == 1 }
        }
        #expect(busy, "worker log: \(worker.stderr)")
        let snapshot = listener.workers()
        let pods = WorkerPods(selectors: ["celery-batch0": ["app": "celery-batch0"], "celery-batch1": ["app": "celery-batch1"]],
                              pods: [.init(name: "celery-batch1-6f7c9d8b5-hb001", labels: ["app": "celery-batch1"])])
        let busyHostnames = snapshot.filter(\.isBusy).map(\.hostname)
        #expect(pods.busyCount(of: "celery-batch1", busyHostnames: busyHostnames) == 1)
        #expect(pods.busyCount(of: "celery-batch0", busyHostnames: busyHostnames) == 0)

        let idle = await eventually(timeout: .seconds(60), interval: .milliseconds(100)) {
            listener.workers().contains { $0.hostname == hostname && $0.active == 0 && $0.processed == 1 }
        }
        #expect(idle, "worker log: \(worker.stderr)")

        // Warm shutdown sends worker-offline, which forgets the worker.
        worker.stop(grace: .seconds(30))
        let gone = await eventually(timeout: .seconds(30), interval: .milliseconds(100)) { listener.workers().isEmpty }
        #expect(gone)
        #expect(listener.undecodableMessages == 0)
    }

    @Test("a worker that stops sending heartbeats turns stale after two intervals")
    func silentWorkerGoesStale() async throws {
        let server = try RedisServer()
        let logs = try TemporaryDirectory(prefix: "celery")
        let celery = CeleryFixture(brokerURL: server.url)
        let listener = WorkerActivityListener(options: options(server), layout: .default)
        listener.start()
        defer { listener.stop() }
        let worker = try celery.startWorker(queues: ["batch2"], hostname: "celery@celery-batch2-6f7c9d8b5-st4le",
                                            pool: "threads", logDirectory: logs.path)
        let seen = await eventually(timeout: .seconds(90), interval: .milliseconds(100)) { !listener.workers().isEmpty }
        #expect(seen, "worker log: \(worker.stderr)")
        worker.signal(SIGKILL)   // no worker-offline
        _ = worker.waitForExit(timeout: .seconds(30))
        let stale = await eventually(timeout: .seconds(30), interval: .milliseconds(100)) { listener.workers().first?.stale == true }
        #expect(stale)
        #expect(listener.workers().count == 1)
    }

    @Test("after Redis restarts, the probe fails clearly, then recovers by itself (and so does the listener)")
    func redisRestart() async throws {
        let server = try RedisServer(password: "restart-pw")
        let celery = CeleryFixture(brokerURL: "redis://:restart-pw@127.0.0.1:\(server.port)/0")
        try celery.produce(#"[{"queue": "batch0", "count": 2}]"#)
        let probe = QueueProbe(client: RedisClient(options: options(server)), layout: .default, queues: CeleryProbeTests.queues)
        defer { probe.client.close() }
        let listener = WorkerActivityListener(options: options(server), layout: .default)
        listener.start()
        defer { listener.stop() }
        #expect(try await probe.observe()["batch0"]?.depth == 2)
        #expect(await eventually(timeout: .seconds(30)) { listener.isSubscribed })

        server.stop()
        let error = await #expect(throws: RedisError.self) { try await probe.observe() }
        #expect(error?.description.contains("127.0.0.1:\(server.port)") == true)
        #expect(await eventually(timeout: .seconds(30)) { !listener.isSubscribed })

        try server.start()   // empty again: no persistence
        try celery.produce(#"[{"queue": "batch0", "count": 1}]"#)
        let recovered = await Wait.until(timeout: .seconds(60), interval: .milliseconds(200)) {
            (try? await probe.observe())?["batch0"]?.depth == 1
        }
        #expect(recovered)
        #expect(await eventually(timeout: .seconds(30)) { listener.isSubscribed }, "listener: \(listener.lastError ?? "")")
    }
}
