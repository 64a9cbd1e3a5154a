import BatchCore
@testable import CeleryRedis
import FoundationEssentials
import Testing

/// `batchctl probe`'s output, from a probe result built by hand (the probe itself is tested against Redis).
@Suite struct ProbeReportTests {
    let queues = [QueueConfig(name: "batch0", deployment: "celery-batch0"), QueueConfig(name: "batch1", deployment: "celery-batch1")]
    let observed = Date(timeIntervalSince1970: 1_800_000_000)
    let pods = WorkerPods(selectors: ["celery-batch0": ["app": "celery-batch0"], "celery-batch1": ["app": "celery-batch1"]],
                          pods: [.init(name: "celery-batch0-7d9f8c6b5-x2x7q", labels: ["app": "celery-batch0"])])

    func result(memory: RedisMemoryReading?) -> QueueProbeResult {
        QueueProbeResult(queues: [QueueReading(name: "batch0", depth: 1_200, inFlight: 3),
                                  QueueReading(name: "batch1", depth: nil, inFlight: nil, error: "batch1 is a string, not a list")],
                         memory: memory, unacked: UnackedSummary(entries: 5, otherQueues: 2, unreadable: 0, error: nil),
                         roundTrips: 1, observedAt: observed)
    }

    @Test func theTableShowsEachQueueItsErrorRedisAndTheWorkers() {
        let worker = WorkerStatus(hostname: "celery@celery-batch0-7d9f8c6b5-x2x7q", active: 1, processed: 40, freq: 2,
                                  lastSeen: observed.addingTimeInterval(-1.5), stale: false)
        let report = ProbeReport(result: result(memory: RedisMemoryReading(used: 3 * 1_048_576, max: 12 * 1_048_576)),
                                 queues: queues, workers: [worker], pods: pods, server: "127.0.0.1:6379", database: 0,
                                 listenedFor: TimeSpan(milliseconds: 3_000))
        #expect(report.table() == """
            QUEUE   DEPTH  IN-FLIGHT  BUSY  DEPLOYMENT
            batch0   1200          3     1  celery-batch0
            batch1      ?          ?     0  celery-batch1
              batch1: batch1 is a string, not a list

            Redis 127.0.0.1:6379 db 0: used memory 3.0 MiB of 12.0 MiB (25%); unacked holds 5 (2 for other queues); 1 round trip

            WORKER                                ACTIVE  PROCESSED  LAST SEEN  STATE
            celery@celery-batch0-7d9f8c6b5-x2x7q       1         40   1.5s ago  busy

            """)
    }

    @Test func withoutHeartbeatsTheBusyColumnIsADashAndNoWorkerTableIsShown() {
        let report = ProbeReport(result: result(memory: nil), queues: queues, workers: nil, server: "unix:/run/redis.sock",
                                 database: 2, listenedFor: TimeSpan(milliseconds: 0))
        let table = report.table()
        #expect(table.hasPrefix("QUEUE   DEPTH  IN-FLIGHT  BUSY  DEPLOYMENT\nbatch0   1200          3     -  celery-batch0\n"))
        #expect(table.contains("Redis unix:/run/redis.sock db 2: memory unknown;"))
        #expect(!table.contains("WORKER"))
    }

    @Test func busyWorkersHeardWithoutThePodsAreUnknownAndNoBusyWorkerIsZero() {
        let busy = WorkerStatus(hostname: "celery@celery-batch0-7d9f8c6b5-x2x7q", active: 1, processed: 40, freq: 2,
                                lastSeen: observed, stale: false)
        let idle = WorkerStatus(hostname: "celery@celery-batch0-7d9f8c6b5-x2x7q", active: 0, processed: 40, freq: 2,
                                lastSeen: observed, stale: false)
        func counts(_ workers: [WorkerStatus]) -> [Int?] {
            ProbeReport(result: result(memory: nil), queues: queues, workers: workers, server: "127.0.0.1:6379", database: 0,
                        listenedFor: TimeSpan(milliseconds: 3_000)).queues.map(\.busyWorkers)
        }
        #expect(counts([busy]) == [nil, nil])
        #expect(counts([idle]) == [0, 0])
    }

    @Test(arguments: [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1_572_864, "1.5 MiB"), (5 << 40, "5.0 TiB"), (3 << 50, "3072.0 TiB")])
    func bytesReadInBinaryUnits(bytes: Int64, text: String) {
        #expect(ProbeReport.bytes(bytes) == text)
    }

    @Test func theJSONHasSortedKeysAndISO8601Times() throws {
        let report = ProbeReport(result: result(memory: nil), queues: queues, workers: [], server: "127.0.0.1:6379", database: 0,
                                 listenedFor: TimeSpan(milliseconds: 3_000))
        let json = try report.json()
        #expect(json.contains(#""observedAt" : "2027-01-15T08:00:00Z""#))
        let listened = try #require(json.firstRange(of: "\"listenedSeconds\""))
        let queues = try #require(json.firstRange(of: "\"queues\""))
        #expect(listened.lowerBound < queues.lowerBound)
        #expect(json.contains(#""workers" : ["#))
    }

    @Test func aWorkerInJSONHasItsHeartbeatFieldsAndItsDeploymentSideBySide() throws {
        let worker = WorkerStatus(hostname: "celery@celery-batch0-7d9f8c6b5-x2x7q", active: 1, processed: 40, freq: 2,
                                  lastSeen: observed, stale: false)
        let stranger = WorkerStatus(hostname: "celery@laptop", active: 0, processed: 0, freq: 2, lastSeen: observed, stale: true)
        let report = ProbeReport(result: result(memory: nil), queues: queues, workers: [worker, stranger], pods: pods, server: "127.0.0.1:6379",
                                 database: 0, listenedFor: TimeSpan(milliseconds: 3_000))
        #expect(try report.json().contains("""
              "workers" : [
                {
                  "active" : 1,
                  "deployment" : "celery-batch0",
                  "freq" : 2,
                  "hostname" : "celery@celery-batch0-7d9f8c6b5-x2x7q",
                  "lastSeen" : "2027-01-15T08:00:00Z",
                  "processed" : 40,
                  "stale" : false
                },
                {
                  "active" : 0,
                  "freq" : 2,
                  "hostname" : "celery@laptop",
                  "lastSeen" : "2027-01-15T08:00:00Z",
                  "processed" : 0,
                  "stale" : true
                }
              ]
            """))
    }
}
