import BatchCore
import Foundation
import Testing
@testable import KubeClient

@Suite struct LineSplitterTests {
    @Test func reassemblesLinesAcrossChunks() {
        var s = LineSplitter()
        let text = Array("{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":3}".utf8)
        var lines: [String] = []
        // Every possible split point into three chunks.
        for i in 0...text.count {
            for j in i...text.count {
                s = LineSplitter()
                lines = []
                for chunk in [text[0..<i], text[i..<j], text[j...]] {
                    lines += (s.feed(chunk) ?? []).map { String(decoding: $0, as: UTF8.self) }
                }
                if let rest = s.finish() { lines.append(String(decoding: rest, as: UTF8.self)) }
                #expect(lines == ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"])
            }
        }
    }

    @Test func refusesEndlessLines() {
        var s = LineSplitter(maximumLineLength: 8)
        #expect(s.feed(Array("12345".utf8)) != nil)
        #expect(s.feed(Array("6789".utf8)) == nil)
    }
}

@Suite struct RetryPolicyTests {
    @Test func exponentialWithCap() {
        let p = RetryPolicy.standard
        #expect(p.baseDelay(attempt: 0) == .milliseconds(800))
        #expect(p.baseDelay(attempt: 1) == .milliseconds(1600))
        #expect(p.baseDelay(attempt: 5) == .milliseconds(25_600))
        #expect(p.baseDelay(attempt: 6) == .seconds(30))
        #expect(p.baseDelay(attempt: 1000) == .seconds(30))
    }

    @Test func jitterStaysWithinHalfToFull() {
        let p = RetryPolicy.standard
        for attempt in 0..<8 {
            let d = p.delay(attempt: attempt, retryAfter: nil)
            #expect(d <= p.baseDelay(attempt: attempt))
            #expect(d >= p.baseDelay(attempt: attempt) / 2 - .milliseconds(1))
        }
    }

    @Test func retryAfterWinsButIsCapped() {
        let p = RetryPolicy(maxRetryAfter: .seconds(5))
        #expect(p.delay(attempt: 3, retryAfter: .seconds(1)) == .seconds(1))
        #expect(p.delay(attempt: 0, retryAfter: .seconds(100)) == .seconds(5))
    }

    @Test func backoffGrowsAndResets() {
        var b = Backoff(policy: RetryPolicy(initialBackoff: .milliseconds(100), maxBackoff: .seconds(1)), resetAfter: .seconds(10))
        let t0 = ContinuousClock.now
        #expect(b.next(now: t0) <= .milliseconds(100))
        #expect(b.next(now: t0 + .seconds(1)) > .milliseconds(99))
        #expect(b.next(now: t0 + .seconds(2)) > .milliseconds(199))
        #expect(b.next(now: t0 + .seconds(30)) <= .milliseconds(100), "reset after a quiet period")
    }
}

@Suite struct KubeErrorTests {
    @Test(arguments: [
        (409, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"Operation cannot be fulfilled on batchqueues.batchctl.dev \\\"batch1\\\": the object has been modified\",\"reason\":\"Conflict\",\"details\":{\"name\":\"batch1\",\"group\":\"batchctl.dev\",\"kind\":\"batchqueues\"},\"code\":409}",
         "conflict", FailureKind.conflict, "Conflict"),
        (404, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":\"deployments.apps \\\"web\\\" not found\",\"reason\":\"NotFound\",\"code\":404}",
         "notFound", .runtime, "NotFound"),
        (403, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":\"forbidden\",\"reason\":\"Forbidden\",\"code\":403}",
         "forbidden", .forbidden, "Forbidden"),
        (401, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}",
         "unauthorized", .runtime, "Unauthorized"),
        (422, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":\"invalid\",\"reason\":\"Invalid\",\"details\":{\"causes\":[{\"reason\":\"FieldValueInvalid\",\"message\":\"must be >= 0\",\"field\":\"spec.replicas\"}]},\"code\":422}",
         "invalid", .badInput, "Invalid"),
        (429, "Too many requests, please try again later.\n", "tooManyRequests", .runtime, "TooManyRequests"),
        (500, "<html>oops</html>", "server", .runtime, "InternalError"),
        (410, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":\"too old resource version: 1 (5)\",\"reason\":\"Expired\",\"code\":410}",
         "expired", .runtime, "Expired"),
    ] as [(Int, String, String, FailureKind, String)])
    func classifiesStatusBodies(_ code: Int, _ body: String, _ case_: String, _ kind: FailureKind, _ reason: String) {
        let e = KubeError.from(httpCode: code, body: Array(body.utf8))
        #expect("\(e)".isEmpty == false)
        #expect(e.kind == kind)
        #expect(e.status?.reason == reason)
        #expect(e.httpCode == code)
        let name: String = switch e {
        case .conflict: "conflict"
        case .notFound: "notFound"
        case .forbidden: "forbidden"
        case .unauthorized: "unauthorized"
        case .invalid: "invalid"
        case .expired: "expired"
        case .tooManyRequests: "tooManyRequests"
        case .server: "server"
        case .transport: "transport"
        case .decoding: "decoding"
        }
        #expect(name == case_)
    }

    @Test func plainTextBodiesBecomeTheMessage() {
        let e = KubeError.from(httpCode: 429, body: Array("Too many requests, please try again later.\n".utf8), retryAfter: .seconds(1))
        #expect(e.description == "Too many requests, please try again later. (HTTP 429, retry after 1s): the API server is throttling requests")
        let invalid = KubeError.from(httpCode: 422, body: Array("{\"kind\":\"Status\",\"message\":\"Scale.autoscaling \\\"web\\\" is invalid\",\"reason\":\"Invalid\",\"details\":{\"causes\":[{\"message\":\"must be >= 0\",\"field\":\"spec.replicas\"}]},\"code\":422}".utf8))
        #expect(invalid.description == "Scale.autoscaling \"web\" is invalid (HTTP 422 Invalid)\n  spec.replicas: must be >= 0")
    }
}

@Suite struct ModelTests {
    @Test(arguments: [
        ("2026-11-21T10:00:00Z", 1_795_255_200_000_000 as Int64, "2026-11-21T10:00:00Z", "2026-11-21T10:00:00.000000Z"),
        ("2025-01-02T03:04:05.123456Z", 1_735_787_045_123_456, "2025-01-02T03:04:05Z", "2025-01-02T03:04:05.123456Z"),
        ("2025-01-02T04:04:05+01:00", 1_735_787_045_000_000, "2025-01-02T03:04:05Z", "2025-01-02T03:04:05.000000Z"),
        ("1969-12-31T23:59:59.5Z", -500_000, "1969-12-31T23:59:59Z", "1969-12-31T23:59:59.500000Z"),
        ("2024-02-29T00:00:00Z", 1_709_164_800_000_000, "2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000000Z"),
    ])
    func parsesAndFormatsTimes(_ text: String, _ micros: Int64, _ seconds: String, _ micro: String) throws {
        let t = try #require(KubeTime(rfc3339: text))
        #expect(t.microsecondsSinceEpoch == micros)
        #expect(t.rfc3339 == seconds)
        #expect(MicroTime(t).rfc3339 == micro)
    }

    @Test(arguments: ["", "2025-13-01T00:00:00Z", "2025-01-01 00:00:00", "2025-01-01T00:00:00", "2025-01-01T00:00:00.Z", "yesterday"])
    func refusesBadTimes(_ text: String) {
        #expect(KubeTime(rfc3339: text) == nil)
    }

    @Test func deploymentMissingIntsAreZero() throws {
        let json = #"{"metadata":{"name":"celery-batch1","resourceVersion":"7","generation":3},"spec":{"replicas":0,"selector":{"matchLabels":{"app":"celery-batch1"}},"template":{"metadata":{"labels":{"app":"celery-batch1"}}}},"status":{}}"#
        let d = try JSONDecoder().decode(Deployment.self, from: Data(json.utf8))
        #expect(d.spec.replicas == 0)
        #expect(d.status == DeploymentStatus())
        #expect(d.spec.selector?.queryString == "app=celery-batch1")
        let scale = try JSONDecoder().decode(Scale.self, from: Data(#"{"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"web","resourceVersion":"9"},"spec":{},"status":{"replicas":0,"selector":"app=web"}}"#.utf8))
        #expect(scale.spec.replicas == 0)
        #expect(scale.status.selector == "app=web")
    }

    @Test func aDeploymentKeepsOnlyItsWorkerContainersCommandAndArgs() throws {
        let json = #"{"metadata":{"name":"celery-batch1"},"spec":{"template":{"spec":{"containers":[{"name":"proxy","image":"envoy","args":["--config","/etc/envoy.yaml"]},{"name":"worker","image":"cl","command":["celery","-A","cl"],"args":["worker","-Q","batch1"],"env":[{"name":"A","value":"b"}]}]}}}}"#
        let d = try JSONDecoder().decode(Deployment.self, from: Data(json.utf8))
        #expect(d.spec.template?.spec?.containers == [ContainerCommand(name: "worker", command: ["celery", "-A", "cl", "worker", "-Q", "batch1"])])
        #expect(d.workerArguments == ["celery", "-A", "cl", "worker", "-Q", "batch1"])
        let none = try JSONDecoder().decode(Deployment.self, from: Data(#"{"metadata":{"name":"web"},"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx"}]}}}}"#.utf8))
        #expect(none.workerArguments == [])
    }

    @Test func batchQueueRoundTrips() throws {
        let json = #"{"apiVersion":"batchctl.dev/v1alpha1","kind":"BatchQueue","metadata":{"name":"batch1","namespace":"court-listener","resourceVersion":"5","generation":4},"spec":{"queue":"batch1","deployment":"celery-batch1","maxReplicas":20,"paused":false,"reservation":{"holder":"alice@example.org","reason":"rehash passwords","claimedAt":"2026-11-21T10:00:00Z","expiresAt":"2026-11-24T10:00:00Z","replicas":5,"approvedBand":"small"}},"status":{"observedGeneration":4,"phase":"Running","depth":1200,"inFlight":8,"busyWorkers":3,"replicas":4,"readyReplicas":4,"desiredReplicas":5,"reminders":{"expiringSoon":["24h"],"orphanedAt":"2026-11-21T10:00:00Z"},"conditions":[{"type":"Ready","status":"True","reason":"Scaled","message":"4/4","lastTransitionTime":"2026-11-21T10:00:00Z","observedGeneration":4}]}}"#
        let q = try JSONDecoder().decode(BatchQueue.self, from: Data(json.utf8))
        #expect(q.spec.reservation?.holder == "alice@example.org")
        #expect(q.status?.phase == .running)
        #expect(q.queueName == "batch1")
        #expect(q.key == "court-listener/batch1")
        let again = try JSONDecoder().decode(BatchQueue.self, from: JSONEncoder().encode(q))
        #expect(again == q)
        let unknownPhase = try JSONDecoder().decode(BatchQueueStatus.self, from: Data(#"{"phase":"Hibernating"}"#.utf8))
        #expect(unknownPhase.phase == .unknown)
    }

    @Test func mergePatchDiff() throws {
        let old: JSONValue = .object(["spec": .object(["deployment": .string("d"), "reservation": .object(["holder": .string("a"), "replicas": .int(5)])]),
                                      "metadata": .object(["labels": .object(["x": .string("1")])])])
        let new: JSONValue = .object(["spec": .object(["deployment": .string("d"), "paused": .bool(true)]),
                                      "metadata": .object(["labels": .object(["x": .string("1")])])])
        let patch = MergePatch.diff(from: old, to: new)
        #expect(patch == .object(["spec": .object(["reservation": .null, "paused": .bool(true)])]))
        #expect(MergePatch.diff(from: new, to: new) == nil)
        let pre = MergePatch.withPrecondition(patch, resourceVersion: "42")
        let text = String(decoding: try JSONEncoder().encode(pre), as: UTF8.self)
        #expect(text.contains("\"resourceVersion\":\"42\""))
        #expect(text.contains("\"reservation\":null"))
    }

    @Test func paths() {
        #expect(Deployment.resourceType.path(namespace: "shop", name: "web", subresource: "scale") == "/apis/apps/v1/namespaces/shop/deployments/web/scale")
        #expect(Pod.resourceType.path(namespace: "shop") == "/api/v1/namespaces/shop/pods")
        #expect(BatchQueue.resourceType.path(namespace: "court-listener", name: "batch1", subresource: "status")
            == "/apis/batchctl.dev/v1alpha1/namespaces/court-listener/batchqueues/batch1/status")
        let r = KubeRequest(method: .get, path: "/api/v1/pods", query: [("labelSelector", "app=web,tier!=db"), ("watch", "true")])
        #expect(r.pathAndQuery == "/api/v1/pods?labelSelector=app%3Dweb%2Ctier%21%3Ddb&watch=true")
        #expect(r.isRetryable)
        #expect(KubeRequest(method: .post, path: "/x").isRetryable == false)
    }

    @Test func eventNames() {
        #expect(Event.name(regarding: "batch1", at: KubeTime(secondsSinceEpoch: 1_795_255_200)) == "batch1.18ea0717bd2c4000")
    }

    @Test func decodesWatchEvents() throws {
        let lines = [
            #"{"type":"ADDED","object":{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web","resourceVersion":"10"},"spec":{"replicas":1},"status":{}}}"#,
            #"{"type":"BOOKMARK","object":{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"resourceVersion":"12"}}}"#,
            #"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (12)","reason":"Expired","code":410}}"#,
        ]
        let events = try lines.map { try JSONDecoder().decode(WatchEvent<Deployment>.self, from: Data($0.utf8)) }
        guard case .added(let d) = events[0], case .bookmark(let rv) = events[1], case .error(let s) = events[2] else {
            Issue.record("wrong event kinds: \(events)")
            return
        }
        #expect(d.metadata.resourceVersion == "10")
        #expect(rv == "12")
        #expect(s.code == 410)
    }
}

/// Issue 19: one object that does not decode is skipped and named; the others are used.
@Suite struct PerItemDecodingTests {
    @Test func aListSkipsAndNamesTheItemThatDoesNotDecode() throws {
        let json = #"""
            {"kind":"BatchQueueList","apiVersion":"batchctl.dev/v1alpha1","metadata":{"resourceVersion":"7"},"items":[
             {"metadata":{"name":"batch0","namespace":"ns"},"spec":{"deployment":"celery-batch0"}},
             {"metadata":{"name":"broken","namespace":"ns","uid":"u-1","resourceVersion":"5"},"spec":{"deployment":"celery-x","maxReplicas":"many"}},
             {"metadata":{"name":"batch1","namespace":"ns"},"spec":{"deployment":"celery-batch1"}}]}
            """#
        let list = try JSONDecoder().decode(KubeList<BatchQueue>.self, from: Data(json.utf8))
        #expect(list.items.map(\.metadata.name) == ["batch0", "batch1"])
        #expect(list.skipped.count == 1)
        let bad = try #require(list.skipped.first)
        #expect(bad.name == "broken" && bad.namespace == "ns" && bad.uid == "u-1" && bad.kind == "BatchQueue")
        #expect(bad.problem.hasPrefix(".spec.maxReplicas: "))
        #expect(bad.description.hasPrefix("BatchQueue ns/broken: .spec.maxReplicas"))
    }

    @Test func aWatchEventOfAnObjectThatDoesNotDecodeIsNamedNotThrown() throws {
        let added = #"{"type":"MODIFIED","object":{"metadata":{"name":"broken","namespace":"ns","resourceVersion":"9"},"spec":{"deployment":"d","paused":"sometimes"}}}"#
        let deleted = #"{"type":"DELETED","object":{"metadata":{"name":"broken","namespace":"ns","resourceVersion":"10"},"spec":{"deployment":"d","paused":"sometimes"}}}"#
        guard case .undecodable(let u) = try JSONDecoder().decode(WatchEvent<BatchQueue>.self, from: Data(added.utf8)),
              case .undecodable(let gone) = try JSONDecoder().decode(WatchEvent<BatchQueue>.self, from: Data(deleted.utf8)) else {
            Issue.record("not undecodable")
            return
        }
        #expect(u.key == "ns/broken" && !u.gone && u.resourceVersion == "9" && u.problem.hasPrefix(".spec.paused: "))
        #expect(gone.gone)
    }
}
