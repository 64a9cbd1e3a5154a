import BatchCore
import BatchTesting
import CeleryRedis
import Foundation
import Synchronization
import Testing

/// The listener reads "now" only from the `WallClock` it is given (the controller's one clock).
@Suite(.serialized)
struct ListenerClockTests {
    /// A wall clock a test moves by hand.
    final class ManualClock: Sendable {
        private let time: Mutex<KubeTime>
        init(_ start: KubeTime) { time = Mutex(start) }
        func advance(milliseconds: Int64) { time.withLock { $0 = KubeTime(microsecondsSinceEpoch: $0.microsecondsSinceEpoch + milliseconds * 1000) } }
        var clock: WallClock { { [self] in time.withLock { $0 } } }
    }

    @Test("a heartbeat is stamped by the injected clock and turns stale when that clock passes two intervals")
    func freshnessFollowsTheInjectedClock() async throws {
        let server = try RedisServer()
        let manual = ManualClock(KubeTime(secondsSinceEpoch: 1_800_000_000))
        let listener = WorkerActivityListener(options: options(server), layout: .default, clock: manual.clock)
        listener.start()
        defer { listener.stop() }
        let channel = CeleryKeys(layout: .default).workerEventChannel(database: 0, event: "heartbeat")
        // Subscribed on the server (not only sent), so the one heartbeat below is heard.
        let subscribed = await eventually(timeout: .seconds(30)) { (try? server.cli(["PUBSUB", "NUMSUB", channel]))?.contains("1") == true }
        #expect(subscribed, "listener: \(listener.lastError ?? "no error")")

        let hostname = "celery@celery-batch0-6f7c9d8b5-ck001"
        let event = #"{"hostname": "\#(hostname)", "type": "worker-heartbeat", "active": 1, "processed": 4, "freq": 2.0, "timestamp": 1800000000.0}"#
        let heartbeat = #"{"body": "\#(Data(event.utf8).base64EncodedString())", "content-encoding": "utf-8", "content-type": "application/json", "headers": {}, "properties": {"body_encoding": "base64", "delivery_info": {"exchange": "celeryev", "routing_key": "worker.heartbeat"}}}"#
        _ = try server.cli(["PUBLISH", channel, heartbeat])
        let heard = await eventually(timeout: .seconds(30)) { !listener.workers().isEmpty }
        #expect(heard, "listener: \(listener.lastError ?? "no error"), undecodable \(listener.undecodableMessages)")
        #expect(listener.workers().first?.lastSeen == Date(timeIntervalSince1970: 1_800_000_000))
        #expect(listener.activeWorkers() == [WorkerActivity(hostname: hostname, active: 1, processed: 4)])

        manual.advance(milliseconds: 4_000)   // exactly two intervals: still fresh
        #expect(listener.activeWorkers().count == 1)
        manual.advance(milliseconds: 1)
        #expect(listener.activeWorkers().isEmpty)
        #expect(listener.workers().first?.stale == true)
    }
}
