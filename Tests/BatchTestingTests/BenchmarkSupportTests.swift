import Foundation
import Testing
@testable import BatchTesting

@Suite struct PercentilesTests {
    @Test func nearestRankMedianAndP90() throws {
        let p = try Percentiles(Array(1...10).shuffled())
        #expect(p.median == 5)
        #expect(p.p90 == 9)
        #expect(p.count == 10)
    }

    @Test func oneSampleIsEveryPercentile() throws {
        let p = try Percentiles([7.5])
        #expect(p.median == 7.5 && p.p90 == 7.5)
    }

    @Test func oddCounts() throws {
        let p = try Percentiles([3, 1, 2, 5, 4, 7, 6])
        #expect(p.median == 4)
        #expect(p.p90 == 7)   // rank ceil(6.3) = 7
    }

    @Test func noSamplesIsAnError() {
        #expect(throws: SupportError.self) { try Percentiles([Int]()) }
    }
}

@Suite struct RequestTallyTests {
    typealias Record = KubeSimServer.RequestRecord
    static let ns = "/apis/batchctl.dev/v1alpha1/namespaces/court-listener"

    @Test(arguments: [
        (Record(time: "", verb: "update", method: "PUT", path: "/apis/coordination.k8s.io/v1/namespaces/n/leases/batchctl-controller"), RequestKind.leaseWrite),
        (Record(time: "", verb: "get", method: "GET", path: "/apis/coordination.k8s.io/v1/namespaces/n/leases/batchctl-controller"), .leaseRead),
        (Record(time: "", verb: "watch", method: "GET", path: "\(ns)/batchqueues", query: "watch=true&resourceVersion=12"), .watch),
        (Record(time: "", verb: "list", method: "GET", path: "/apis/apps/v1/namespaces/n/deployments", query: "limit=500"), .list),
        (Record(time: "", verb: "get", method: "GET", path: "\(ns)/batchqueues/batch1"), .otherRead),
        (Record(time: "", verb: "patch", method: "PATCH", path: "/apis/apps/v1/namespaces/n/deployments/celery-batch1/scale"), .scaleWrite),
        (Record(time: "", verb: "update", method: "PUT", path: "\(ns)/batchqueues/batch1/status"), .batchQueueWrite),
        (Record(time: "", verb: "patch", method: "PATCH", path: "\(ns)/batchqueues/batch1"), .batchQueueWrite),
        (Record(time: "", verb: "create", method: "POST", path: "/api/v1/namespaces/n/events"), .eventWrite),
        (Record(time: "", verb: "create", method: "POST", path: "/apis/events.k8s.io/v1/namespaces/n/events"), .eventWrite),
        (Record(time: "", verb: "delete", method: "DELETE", path: "/api/v1/namespaces/n/pods/p"), .otherWrite),
    ])
    func kinds(_ record: Record, _ kind: RequestKind) {
        #expect(record.kind == kind, "\(record.method) \(record.path)")
    }

    @Test func countsAndSummary() {
        let lease = Record(time: "", verb: "update", method: "PUT", path: "/apis/coordination.k8s.io/v1/namespaces/n/leases/l")
        let watch = Record(time: "", verb: "watch", method: "GET", path: "/api/v1/namespaces/n/pods", query: "watch=true")
        let t = RequestTally([lease, lease, watch])
        #expect(t.total == 3)
        #expect(t[.leaseWrite] == 2 && t[.watch] == 1 && t[.scaleWrite] == 0)
        #expect(t.writes == 2)
        #expect(t.summary.hasPrefix("2 Lease writes, 0 Lease reads, 1 watches, 0 lists"))
    }

    @Test func windowsSplitByServerTime() throws {
        let start = try #require(KubeTimestamp.parse("2026-11-22T03:00:00Z"))
        func at(_ time: String) -> Record { Record(time: time, verb: "get", method: "GET", path: "/version") }
        let records = [at("2026-11-22T02:59:59.900000Z"), at("2026-11-22T03:00:00.000001Z"), at("2026-11-22T03:00:59.999999Z"),
                       at("2026-11-22T03:01:00.000000Z"), at("2026-11-22T03:02:30.5Z"), at("not a time")]
        let windows = RequestTally.windows(records, from: start, length: 60, count: 2)
        #expect(windows.map(\.count) == [2, 1])
    }
}

@Suite struct BenchmarkTableTests {
    func row(_ figure: String, group: String?, p90: String = "1 ms", notes: String = "") -> BenchmarkRow {
        BenchmarkRow(figure: figure, median: "1 ms", p90: p90, runs: "3",
                     command: group.map { "`.build/release/batchbench --only \($0)`" } ?? "by hand", notes: notes)
    }

    @Test func aRowRoundTripsThroughItsLineWithBarsEscaped() throws {
        let r = row("probe, 4 queues", group: "probe", notes: "a | b")
        let parsed = try #require(BenchmarkRow(line: r.line))
        #expect(parsed == r)
        #expect(parsed.group == "probe")
        #expect(r.line.contains("a \\| b"))
    }

    @Test func headerRuleAndProseAreNotRows() {
        let text = "# Benchmarks\n\nSome | prose\n\(BenchmarkTable.header)\n\(BenchmarkTable.rule)\n\(row("x", group: "g").line)\n| old | five | cells | only | here |\n"
        #expect(BenchmarkTable.rows(in: text).map(\.figure) == ["x"])
    }

    @Test func mergeReplacesTheGroupsThatRanAndKeepsTheOthersInGroupOrder() {
        let kept = [row("rss", group: "controller-rss"), row("probe old", group: "probe"), row("probe gone", group: "probe"),
                    row("manual", group: nil)]
        let new = [row("decide 4", group: "decide"), row("probe new", group: "probe")]
        let merged = BenchmarkTable.merge(kept: kept, new: new, groups: ["probe", "decide", "controller-rss"])
        #expect(merged.map(\.figure) == ["probe new", "decide 4", "rss", "manual"])
    }

    @Test(arguments: [("0.298 ms", 0.298, "ms"), ("1.5 s", 1500, "ms"), ("850 µs", 0.85, "ms"), ("35.8 MiB", 35.8, "MiB"),
                      ("1,000 requests", 1000, "requests"), ("2", 2, "")])
    func measuredValues(_ text: String, _ value: Double, _ unit: String) throws {
        let v = try #require(MeasuredValue(text))
        #expect(abs(v.value - value) < 1e-9)
        #expect(v.unit == unit)
    }

    @Test func targetsAreMetNotMetOrNotMeasured() {
        let rows = [row("probe", group: "probe", p90: "0.370 ms", notes: "1 round trip per probe"), row("rss", group: "rss", p90: "35.8 MiB")]
        #expect(BenchmarkTarget("t", figures: ["probe"], check: .p90AtMost(0.5, unit: "ms")).verdict(rows) == "met (p90 0.370 ms)")
        #expect(BenchmarkTarget("t", figures: ["probe"], check: .p90Below(0.37, unit: "ms")).verdict(rows).hasPrefix("not met"))
        #expect(BenchmarkTarget("t", figures: ["rss"], check: .p90Below(25, unit: "MiB"), gap: "see below").verdict(rows)
                == "not met (p90 35.8 MiB); see below")
        #expect(BenchmarkTarget("t", figures: ["probe"], check: .notesContain("1 round trip")).verdict(rows) == "met (probe: yes)")
        #expect(BenchmarkTarget("t", figures: ["probe", "rss"], check: .notesContain("1 round trip")).verdict(rows).hasPrefix("not met"))
        #expect(BenchmarkTarget("t", figures: ["wake"], check: .p90Below(1500, unit: "ms")).verdict(rows).hasPrefix("not measured"))
        #expect(BenchmarkTarget("t", figures: ["rss"], check: .p90Below(1, unit: "ms")).verdict(rows).hasPrefix("not measured"))
    }
}

@Suite struct TimedCommandTests {
    @Test func exitStatusAndOutput() throws {
        let dir = try TemporaryDirectory(prefix: "timed")
        let output = dir.path + "/out"
        let r = try TimedCommand.run("/bin/sh", ["-c", "echo hello; echo oops >&2; exit 3"], output: output)
        #expect(r.status == 3)
        #expect(try String(contentsOfFile: output, encoding: .utf8) == "hello\noops\n")
        #expect(try TimedCommand.run("/bin/sh", ["-c", "test \"$GREETING\" = hi"], environment: ["GREETING": "hi"]).status == 0)
    }

    @Test func aSignalIsReportedAs128PlusItsNumber() throws {
        #expect(try TimedCommand.run("/bin/sh", ["-c", "kill -TERM $$"]).status == 128 + SIGTERM)
    }

    @Test func pastTheTimeoutTheChildIsKilled() throws {
        #expect(try TimedCommand.run("/bin/sleep", ["30"], timeout: .milliseconds(200)).status == 128 + SIGKILL)
    }

    @Test func aMissingExecutableIsAnError() {
        #expect(throws: SupportError.self) { try TimedCommand.run("/nonexistent/tool", []) }
    }
}
