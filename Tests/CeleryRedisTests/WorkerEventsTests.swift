import BatchTesting
import CeleryRedis
import Foundation
import Testing

@Suite struct WorkerEventsTests {
    /// A payload captured from a real Celery 5.7 worker on `/0.celeryev/worker.heartbeat`.
    static let heartbeat = #"{"body": "eyJob3N0bmFtZSI6ICJjZWxlcnlAbXlwb2QtYWJjIiwgInV0Y29mZnNldCI6IDAuMCwgInBpZCI6IDM0MTQsICJjbG9jayI6IDIsICJmcmVxIjogMi4wLCAiYWN0aXZlIjogMCwgInByb2Nlc3NlZCI6IDAsICJsb2FkYXZnIjogWzAuMzksIDAuMTgsIDAuMDddLCAic3dfaWRlbnQiOiAicHktY2VsZXJ5IiwgInN3X3ZlciI6ICI1LjcuMCIsICJzd19zeXMiOiAiTGludXgiLCAidGltZXN0YW1wIjogMTc5NTMwNzMzOC41OTAyODA1LCAidHlwZSI6ICJ3b3JrZXItaGVhcnRiZWF0In0=", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"hostname": "celery@mypod-abc"}, "properties": {"delivery_mode": 1, "delivery_info": {"exchange": "celeryev", "routing_key": "worker.heartbeat"}, "priority": 0, "body_encoding": "base64", "delivery_tag": "a4187c69-6b2c-4d70-9bb7-64150e7641e4"}}"#

    @Test func decodesARealHeartbeat() throws {
        let event = try #require(try WorkerEvent.decode(Array(Self.heartbeat.utf8)))
        #expect(event == WorkerEvent(type: "worker-heartbeat", hostname: "celery@mypod-abc", active: 0, processed: 0,
                                     freq: 2.0, timestamp: 1795307338.5902805))
    }

    /// Payloads captured from a real Celery 5.7 worker (Tests/Fixtures/celery-events).
    @Test(arguments: [
        ("idle_heartbeat", "worker-heartbeat", 0, 0),
        ("busy_heartbeat", "worker-heartbeat", 1, 1),
        ("heartbeat_db3", "worker-heartbeat", 0, 0),
        ("heartbeat_keyprefix_pfx", "worker-heartbeat", 0, 0),
        ("worker_online", "worker-online", 0, 0),
        ("worker_offline", "worker-offline", 0, 1),
    ])
    func decodesCapturedPayloads(file: String, type: String, active: Int, processed: Int) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(ProjectPaths.fixtures)/celery-events/\(file).payload.json"))
        let event = try #require(try WorkerEvent.decode(Array(data)))
        #expect(event.type == type)
        #expect(event.hostname == "celery@mypod-abc")
        #expect(event.active == active)
        #expect(event.processed == processed)
        #expect(event.freq == 2.0)
    }

    @Test func capturedTaskEventBatchIsSkipped() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(ProjectPaths.fixtures)/celery-events/task_multi_with_-E.payload.json"))
        #expect(try WorkerEvent.decode(Array(data)) == nil)
    }

    @Test func bufferedTaskEventListsAreSkipped() throws {
        let body = Data(#"[{"type": "task-received"}]"#.utf8).base64EncodedString()
        let payload = #"{"body": "\#(body)", "content-type": "application/json", "properties": {"body_encoding": "base64"}}"#
        #expect(try WorkerEvent.decode(Array(payload.utf8)) == nil)
    }

    @Test(arguments: [
        "not json",
        #"{"body": "%%%", "content-type": "application/json", "properties": {"body_encoding": "base64"}}"#,
        #"{"body": "gAJ9cQAu", "content-type": "application/x-python-serialize", "properties": {"body_encoding": "base64"}}"#,
    ])
    func unreadablePayloadsSayWhy(payload: String) {
        #expect(throws: WorkerEventError.self) { try WorkerEvent.decode(Array(payload.utf8)) }
    }

    @Test func workersGoStaleAfterTwoIntervalsAndOfflineForgetsThem() {
        var registry = WorkerRegistry()
        let t0 = Date(timeIntervalSince1970: 1000)
        registry.apply(WorkerEvent(type: "worker-heartbeat", hostname: "celery@a", active: 1, processed: 3, freq: 2), receivedAt: t0)
        registry.apply(WorkerEvent(type: "worker-online", hostname: "celery@b", active: 0, processed: 0, freq: 2), receivedAt: t0)
        #expect(registry.snapshot(now: t0 + 4).map(\.stale) == [false, false])
        #expect(registry.snapshot(now: t0 + 4.01).map(\.stale) == [true, true])
        #expect(registry.snapshot(now: t0 + 1).first?.isBusy == true)
        #expect(registry.snapshot(now: t0 + 5).first?.isBusy == false)   // stale is not busy
        registry.apply(WorkerEvent(type: "worker-offline", hostname: "celery@a", active: 0, processed: 3, freq: 2), receivedAt: t0 + 1)
        #expect(registry.snapshot(now: t0 + 1).map(\.hostname) == ["celery@b"])
    }
}

/// Issue 19: heartbeats are data from task code, so every field is untrusted.
@Suite struct HostileWorkerEventTests {
    func payload(_ body: String) -> [UInt8] {
        let encoded = Data(body.utf8).base64EncodedString()
        return Array(#"{"body": "\#(encoded)", "content-type": "application/json", "properties": {"body_encoding": "base64"}}"#.utf8)
    }

    @Test(arguments: [
        (#""active": 9223372036854775807, "processed": 1e300, "freq": 1e300"#, WorkerEvent.maxTaskCount, WorkerEvent.maxTaskCount, 60.0),
        (#""active": 18446744073709551616, "freq": 0"#, WorkerEvent.maxTaskCount, 0, 0.5),
        (#""active": -3, "processed": -1e300, "freq": -1"#, 0, 0, 0.5),
        (#""active": 2.7, "freq": 5"#, 2, 0, 5.0),
    ] as [(String, Int, Int, Double)])
    func numbersAreClamped(fields: String, active: Int, processed: Int, freq: Double) throws {
        let event = try #require(try WorkerEvent.decode(payload(#"{"type": "worker-heartbeat", "hostname": "celery@p-1-a", \#(fields)}"#)))
        #expect(event.active == active)
        #expect(event.processed == processed)
        #expect(event.freq == freq)
    }

    @Test func oversizedPayloadsAndHostnamesAreRefused() {
        #expect(throws: WorkerEventError.self) { try WorkerEvent.decode([UInt8](repeating: 0x20, count: WorkerEvent.maxPayloadBytes + 1)) }
        let long = String(repeating: "a", count: 300)
        #expect(throws: WorkerEventError.self) { try WorkerEvent.decode(payload(#"{"type": "worker-heartbeat", "hostname": "celery@\#(long)"}"#)) }
    }

    @Test(arguments: [
        ("celery@celery-batch1-7d9f8-abcde", true), ("celery@a", true), ("celery@a.b-c", true),
        ("worker@celery-batch1-7d9f8-abcde", false), ("celery@", false), ("celery@Upper", false), ("celery@-a", false),
        ("celery@a\u{1B}[31m", false), ("celery@a b", false), ("gen123@vm", false),
    ])
    func onlyCeleryAtPodNamesAreWorkers(hostname: String, kept: Bool) {
        #expect(WorkerStatus.isPodHostname(hostname) == kept)
        var registry = WorkerRegistry()
        registry.apply(WorkerEvent(type: "worker-heartbeat", hostname: hostname, active: 1, processed: 1, freq: 2), receivedAt: Date())
        #expect(registry.count == (kept ? 1 : 0))
        #expect(registry.ignoredHostnames == (kept ? 0 : 1))
    }

    @Test("10,000 distinct hostnames: the registry keeps its capacity, and a live worker that keeps sending stays")
    func aFloodOfHostnamesIsBounded() {
        var registry = WorkerRegistry(capacity: 100, expiry: 600)
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        for i in 0..<10_000 {
            let now = t0 + Double(i) / 100
            if i % 50 == 0 {
                registry.apply(WorkerEvent(type: "worker-heartbeat", hostname: "celery@live-1-a", active: 1, processed: 1, freq: 2), receivedAt: now)
            }
            registry.apply(WorkerEvent(type: "worker-heartbeat", hostname: "celery@flood-\(i)", active: 3, processed: 0, freq: 60), receivedAt: now)
        }
        #expect(registry.count == 100)
        #expect(registry.evicted == 10_000 + 1 - 100)
        #expect(registry.snapshot(now: t0 + 100).contains { $0.hostname == "celery@live-1-a" })
    }

    @Test func silentWorkersExpire() {
        var registry = WorkerRegistry(capacity: 10, expiry: 60)
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        registry.apply(WorkerEvent(type: "worker-heartbeat", hostname: "celery@a", active: 0, processed: 0, freq: 2), receivedAt: t0)
        registry.expire(now: t0 + 61)
        #expect(registry.count == 0)
    }
}
