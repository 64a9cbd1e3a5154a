import BatchCore
import BatchctlKit
import BatchTesting
import Foundation
import Testing

/// The daily commands end to end: the built batchctl against KubeSim with the real CRD and objects.
@Suite struct QueueCommandTests {
    @Test func claimUpdateScaleExtendRelease() throws {
        let f = try ClusterFixture()
        let claim = try f.batchctl(["claim", "batch1", "--for", "3d", "--replicas", "5", "--reason", "rehash passwords"])
        #expect(claim.status == 0, "\(claim.stderr)")
        #expect(claim.stderr.isEmpty)
        let first = try #require(try f.queue("batch1").spec.reservation)
        #expect(first.holder == "alice" && first.replicas == 5 && first.reason == "rehash passwords" && first.approvedBand == nil)
        #expect(first.expiresAt == first.claimedAt.adding(.days(3)))
        #expect(claim.stdout == """
            claimed batch1 for alice: until \(TimeText.utc(first.expiresAt)) (in 3d), up to 5 replicas, for "rehash passwords"
            Send tasks to the batch1 queue; the controller scales celery-batch1 while there is work. Run 'batchctl release batch1' when you are done.

            """)

        // Yours already: an update that keeps what is not given.
        let update = try f.batchctl(["claim", "batch1", "--replicas", "8"])
        #expect(update.status == 0, "\(update.stderr)")
        #expect(update.stdout.hasPrefix("updated your claim on batch1: until \(TimeText.utc(first.expiresAt)) (in 3d), up to 8 replicas, for \"rehash passwords\""))
        let updated = try #require(try f.queue("batch1").spec.reservation)
        #expect(updated.replicas == 8 && updated.expiresAt == first.expiresAt && updated.claimedAt == first.claimedAt)

        let scale = try f.batchctl(["scale", "batch1", "12", "--approve-band", "big"])
        #expect(scale.status == 0, "\(scale.stderr)")
        #expect(scale.stdout.contains("up to 12 replicas (big band approved)"))
        #expect(try f.queue("batch1").spec.reservation?.approvedBand == "big")

        let extend = try f.batchctl(["extend", "batch1", "--for", "1d"])
        #expect(extend.status == 0, "\(extend.stderr)")
        #expect(try f.queue("batch1").spec.reservation?.expiresAt == first.expiresAt.adding(.days(1)))
        #expect(extend.stdout.hasPrefix("extended your claim on batch1: until \(TimeText.utc(first.expiresAt.adding(.days(1)))) (in 4d)"))

        let release = try f.batchctl(["release", "batch1"])
        #expect(release.status == 0, "\(release.stderr)")
        #expect(release.stdout == "released your claim on batch1; the controller scales its workers to zero once busy ones finish\n")
        #expect(try f.queue("batch1").spec.reservation == nil)
        try f.sim.clearRequests()
        let again = try f.batchctl(["release", "batch1"])
        #expect(again.status == 0)
        #expect(again.stdout == "batch1 is already free; nothing to release\n")
        #expect(try f.writes().isEmpty)

        // Every spec write carried the resourceVersion it read.
        let patches = try f.sim.requests().filter { $0.method == "PATCH" }
        #expect(patches.allSatisfy { $0.body?.contains("\"resourceVersion\"") == true })
    }

    @Test func claimAnyTakesTheFirstFreeQueueInConfigOrderAndNamesHoldersWhenNoneIsFree() throws {
        let f = try ClusterFixture()
        #expect(try f.batchctl(["claim", "batch0"], as: "alice").status == 0)
        let any = try f.batchctl(["claim", "--any", "--reason", "backfill"], as: "bob")
        #expect(any.status == 0, "\(any.stderr)")
        #expect(any.stdout.hasPrefix("claimed batch1 for bob: "))
        #expect(try f.batchctl(["claim", "batch2"], as: "alice").status == 0)
        #expect(try f.batchctl(["claim", "batch3"], as: "alice").status == 0)
        try f.sim.clearRequests()
        let none = try f.batchctl(["claim", "--any"], as: "bob")
        #expect(none.status == 3)
        #expect(none.stderr.hasPrefix("error: no queue is free:\n  batch0: held by alice until "), "\(none.stderr)")
        #expect(none.stderr.contains("\n  batch1: held by you until "))
        #expect(try f.writes().isEmpty)
    }

    @Test func withoutSelfSubjectReviewTheKubeconfigUserHoldsWithAWarning() throws {
        let f = try ClusterFixture()
        try f.sim.setFaults("create /apis/authentication.k8s.io/v1/selfsubjectreviews status=404")
        let r = try f.batchctl(["claim", "batch3"], as: "bob")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("warning: the API server has no SelfSubjectReview API (authentication.k8s.io/v1), so the holder is recorded as the kubeconfig user 'bob'"))
        #expect(try f.queue("batch3").spec.reservation?.holder == "bob")
    }

    @Test func kubectlGetBqShowsTheClaimInThePrinterColumns() throws {
        let f = try ClusterFixture()
        #expect(try f.batchctl(["claim", "batch2", "--reason", "rehash passwords"], as: "alice").status == 0)
        let expires = try #require(try f.queue("batch2").spec.reservation?.expiresAt)
        let r = try f.sim.kubectl(["get", "bq", "-n", ClusterFixture.namespace, "-o", "wide"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(lines.first == ["NAME", "QUEUE", "HOLDER", "EXPIRES", "DEPTH", "INFLIGHT", "REPLICAS", "DESIRED", "PHASE", "REASON", "AGE"])
        let row = try #require(lines.first { $0.first == "batch2" })
        #expect(Array(row.prefix(4)) == ["batch2", "batch2", "alice", expires.rfc3339])
        #expect(row.contains("rehash"))
        #expect(lines.first { $0.first == "batch1" }?.contains("alice") == false)
    }

    @Test func statusJSONRoundTripsThroughTheSwiftModel() throws {
        let f = try ClusterFixture()
        #expect(try f.batchctl(["claim", "batch1", "--reason", "json"], as: "alice").status == 0)
        let r = try f.batchctl(["status", "-o", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let list = try JSONDecoder().decode(BatchQueueList.self, from: Data(r.stdout.utf8))
        #expect(list.apiVersion == "batchctl.dev/v1alpha1" && list.kind == "BatchQueueList")
        #expect(list.items == (try (0..<4).map { try f.queue("batch\($0)") }))
        #expect(try list.json() == r.stdout)

        let yaml = try f.batchctl(["status", "batch1", "-o", "yaml"])
        #expect(yaml.status == 0, "\(yaml.stderr)")
        // Keys sorted, as kubectl prints YAML.
        #expect(yaml.stdout.hasPrefix("---\napiVersion: batchctl.dev/v1alpha1\nitems:\n- apiVersion: batchctl.dev/v1alpha1\n"))
        #expect(yaml.stdout.hasSuffix("kind: BatchQueueList\n"))
        #expect(yaml.stdout.contains("holder: alice"))
    }

    @Test func statusTableIsPlainWhenPiped() throws {
        let f = try ClusterFixture()
        #expect(try f.batchctl(["claim", "batch1", "--reason", "rehash passwords"], as: "alice").status == 0)
        let r = try f.batchctl(["status"], extraEnvironment: ["NO_COLOR": ""])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 5)
        #expect(lines.first?.hasPrefix("QUEUE   HOLDER  REASON            EXPIRES") == true, "\(r.stdout)")
        #expect(lines[2].hasPrefix("batch1  alice   rehash passwords  "))
        #expect(lines[1].hasPrefix("batch0  -       -                 -  "))
        #expect(!r.stdout.contains("\u{1B}["))
        let wide = try f.batchctl(["status", "batch1", "-o", "wide"])
        #expect(wide.stdout.split(separator: "\n").first?.hasSuffix("PHASE    CLAIMED               BUSY  STRANDED  BAND  MAX  USED") == true, "\(wide.stdout)")
    }

    @Test func statusWatchAppendsATableOnEachChangeWhenPiped() throws {
        let f = try ClusterFixture()
        let logs = try TemporaryDirectory(prefix: "watch")
        let watch = try ChildProcess(name: "watch", executable: ClusterFixture.batchctl,
                                     arguments: ["status", "--watch", "--watch-limit", "2"] + f.flags("bob"),
                                     environment: f.environment, logDirectory: logs.path)
        defer { watch.stop(grace: .seconds(1)) }
        #expect(Wait.until(timeout: .seconds(30)) { watch.stdout.contains("batch3") })
        // The watch may start after this claim or before it: either way the change shows in a second table.
        let claim = try f.batchctl(["claim", "batch2", "--reason", "watched"], as: "alice")
        #expect(claim.status == 0, "\(claim.stderr)")
        let status = watch.waitForExit(timeout: .seconds(30))
        #expect(status == 0, "\(watch.stderr)")
        let tables = watch.stdout.components(separatedBy: "\n\n")
        #expect(tables.count == 2, "\(watch.stdout)")
        #expect(tables.last?.contains("batch2  alice") == true)
        #expect(!watch.stdout.contains("\u{1B}["))
    }

    @Test func describeShowsSpecReservationStatusConditionsAndEvents() throws {
        let f = try ClusterFixture()
        #expect(try f.batchctl(["claim", "batch1", "--reason", "rehash passwords"], as: "alice").status == 0)
        let status = #"{"status":{"phase":"Running","depth":1200,"inFlight":8,"busyWorkers":3,"replicas":4,"readyReplicas":4,"desiredReplicas":5,"conditions":[{"type":"BudgetLimited","status":"False","reason":"WithinBudget","message":"5 of 40 replicas","lastTransitionTime":"2026-11-21T10:00:00Z"}]}}"#
        let s = try f.sim.curl("PATCH", "/apis/batchctl.dev/v1alpha1/namespaces/court-listener/batchqueues/batch1/status", body: status,
                               contentType: "application/merge-patch+json")
        try #require(s.status == 200, "\(s.body)")
        let event = #"{"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"batch1.1","namespace":"court-listener"},"eventTime":"2026-11-21T10:05:00.000000Z","reportingController":"batchctl.dev/controller","reportingInstance":"controller-0","action":"Scale","reason":"ScaledUp","type":"Normal","note":"celery-batch1 2 -> 4 replicas","regarding":{"apiVersion":"batchctl.dev/v1alpha1","kind":"BatchQueue","namespace":"court-listener","name":"batch1"}}"#
        let other = event.replacingOccurrences(of: "batch1.1", with: "batch2.1").replacingOccurrences(of: #""name":"batch1"}"#, with: #""name":"batch2"}"#)
        for e in [event, other] {
            let p = try f.sim.curl("POST", "/apis/events.k8s.io/v1/namespaces/court-listener/events", body: e)
            try #require(p.status == 201, "\(p.body)")
        }
        let r = try f.batchctl(["describe", "batch1"], as: "bob")
        #expect(r.status == 0, "\(r.stderr)")
        for expected in ["Name:                   batch1\n", "Deployment:             celery-batch1\n", "Reservation:\n  Holder:               alice\n",
                         "  Reason:               rehash passwords\n", "  Phase:                Running\n", "  Depth:                1200\n",
                         "  Replicas:             4 ready / 5 desired / 4 current\n",
                         "Conditions:\n  TYPE           STATUS  REASON        SINCE", "BudgetLimited  False   WithinBudget",
                         "Events:\n  TYPE    REASON    AGE", "Normal  ScaledUp", "batchctl.dev/controller  celery-batch1 2 -> 4 replicas\n"] {
            #expect(r.stdout.contains(expected), "missing \(expected.debugDescription) in:\n\(r.stdout)")
        }
        #expect(!r.stdout.contains("batch2"))
    }

    @Test("describe reads core/v1 Events too (eventTime null in the events.k8s.io view); user text reaches the terminal without control characters")
    func describeReadsCoreEventsAndStripsControlCharacters() throws {
        let f = try ClusterFixture()
        let claim = try f.batchctl(["claim", "batch1", "--reason", "rehash \u{1B}]0;pwned\u{07}\u{1B}[2J now"], as: "alice")
        #expect(claim.status == 0, "\(claim.status): \(claim.stderr.debugDescription)")
        let core = #"{"apiVersion":"v1","kind":"Event","metadata":{"name":"batch1.core1","namespace":"court-listener"},"involvedObject":{"apiVersion":"batchctl.dev/v1alpha1","kind":"BatchQueue","namespace":"court-listener","name":"batch1"},"reason":"Poked","message":"look \u001b[31mred\u001b[0m\nsecond line","type":"Warning","firstTimestamp":"2026-11-21T10:00:00Z","lastTimestamp":"2026-11-21T10:06:00Z","count":3,"source":{"component":"some-operator"}}"#
        let p = try f.sim.curl("POST", "/api/v1/namespaces/court-listener/events", body: core)
        try #require(p.status == 201, "\(p.body)")
        let r = try f.batchctl(["describe", "batch1"], as: "bob")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("Warning  Poked"), "\(r.stdout)")
        #expect(r.stdout.contains("(x3)") && r.stdout.contains("some-operator"), "\(r.stdout)")
        #expect(r.stdout.contains("look ?[31mred?[0m second line"), "\(r.stdout)")
        #expect(r.stdout.contains("rehash ?]0;pwned??[2J now"), "\(r.stdout)")
        let status = try f.batchctl(["status"], as: "bob")
        #expect(status.status == 0, "\(status.stderr)")
        for out in [r.stdout, status.stdout] {
            #expect(!out.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" }, "\(out.debugDescription)")
        }
    }
}
