import BatchCore
import BatchTesting
import Foundation
import Testing

/// Acceptance 2: every refusal exits 2, 3 or 4 with a clear message, and KubeSim's request log shows no write.
@Suite struct RefusalTests {
    struct Case: Sendable, CustomStringConvertible {
        var arguments: [String]
        var user: String
        var status: Int32
        var message: String
        var description: String { "\(user): batchctl \(arguments.joined(separator: " "))" }
    }

    static let cases: [Case] = [
        // Unknown queue.
        Case(arguments: ["claim", "batch9"], user: "bob", status: 2,
             message: "error: there is no queue \"batch9\" in namespace court-listener; the queues are batch0, batch1, batch2, batch3\n"),
        Case(arguments: ["release", "batch9"], user: "alice", status: 2, message: "there is no queue \"batch9\""),
        Case(arguments: ["status", "batch9"], user: "alice", status: 2, message: "there is no queue \"batch9\""),
        Case(arguments: ["describe", "nope"], user: "alice", status: 2, message: "there is no queue \"nope\""),
        // Bad durations.
        Case(arguments: ["claim", "batch2", "--for", "3x"], user: "bob", status: 2, message: "--for "),
        Case(arguments: ["claim", "batch2", "--for", "30d"], user: "bob", status: 2,
             message: "error: --for 30d is longer than the longest reservation, 2w (BatchQueuePolicy default, spec.reservations.maxDuration); ask for 2w or less and extend later with 'batchctl extend'\n"),
        Case(arguments: ["extend", "batch1", "--for", "14d"], user: "alice", status: 2,
             message: "error: extending by 2w would hold batch1 until "),
        Case(arguments: ["extend", "batch1", "--for", "14d"], user: "alice", status: 2,
             message: "a reservation lasts at most 2w from when it was claimed (BatchQueuePolicy default, spec.reservations.maxDuration), so this one can run until "),
        Case(arguments: ["extend", "batch1", "--for", "soon"], user: "alice", status: 2, message: "--for "),
        // Replica bands and maxReplicas.
        Case(arguments: ["claim", "batch2", "--replicas", "15"], user: "bob", status: 2,
             message: "error: --replicas 15 is in the big band (11-20), which needs approval: check the database and the services your tasks use can take it, then add --approve-band big\n"),
        Case(arguments: ["claim", "batch2", "--replicas", "25", "--approve-band", "big"], user: "bob", status: 2,
             message: "error: --replicas 25 is above batch2's maxReplicas (20); ask for 20 or fewer, or ask an admin (group batchctl:admins) to raise spec.maxReplicas\n"),
        Case(arguments: ["scale", "batch1", "12"], user: "alice", status: 2, message: "--replicas 12 is in the big band (11-20), which needs approval"),
        Case(arguments: ["scale", "batch1", "21", "--approve-band", "big"], user: "alice", status: 2, message: "above batch1's maxReplicas (20)"),
        Case(arguments: ["claim", "batch1", "--approve-band", "huge"], user: "alice", status: 2, message: "--approve-band huge is not a band"),
        Case(arguments: ["scale", "batch2", "3"], user: "alice", status: 2, message: "batch2 is not reserved, so there is nothing to scale; run 'batchctl claim batch2' first"),
        // Someone else's claim.
        Case(arguments: ["claim", "batch1"], user: "bob", status: 3, message: "error: batch1 is held by alice until "),
        Case(arguments: ["release", "batch1"], user: "bob", status: 3,
             message: "Ask alice to release it, or, if you are an admin (group batchctl:admins), run 'batchctl release batch1 --force'.\n"),
        Case(arguments: ["scale", "batch1", "3"], user: "bob", status: 3, message: "Only alice can scale it.\n"),
        Case(arguments: ["extend", "batch1", "--for", "1d"], user: "bob", status: 3, message: "Only alice can extend it.\n"),
        // Malformed flags (ArgumentParser's usage errors).
        Case(arguments: ["claim", "batch1", "--replicas", "many"], user: "alice", status: 2, message: "--replicas"),
        Case(arguments: ["claim"], user: "alice", status: 2, message: "name one queue or pass --any"),
        Case(arguments: ["claim", "batch1", "--any"], user: "alice", status: 2, message: "name one queue or pass --any"),
        Case(arguments: ["scale", "batch1"], user: "alice", status: 2, message: "Missing expected argument '<replicas>'"),
        Case(arguments: ["extend", "batch1"], user: "alice", status: 2, message: "Missing expected argument '--for <duration>'"),
        Case(arguments: ["release", "batch1", "--forcefully"], user: "alice", status: 2, message: "Unknown option '--forcefully'"),
        Case(arguments: ["status", "-o", "xml"], user: "alice", status: 2, message: "xml"),
    ]

    @Test func everyRefusalExitsWithItsStatusAndWritesNothing() throws {
        let f = try ClusterFixture()
        let claimed = try f.batchctl(["claim", "batch1", "--for", "3d", "--reason", "rehash passwords"], as: "alice")
        try #require(claimed.status == 0, "\(claimed.stderr)")
        let before = try (0..<4).map { try f.queue("batch\($0)") }
        for c in Self.cases {
            try f.sim.clearRequests()
            let r = try f.batchctl(c.arguments, as: c.user)
            #expect(r.status == c.status, "\(c): \(r.stderr)")
            #expect(c.message.hasSuffix("\n") ? r.stderr.hasPrefix("error: ") && r.stderr.hasSuffix(c.message) : r.stderr.contains(c.message),
                    "\(c): \(r.stderr)")
            #expect(r.stdout.isEmpty, "\(c): \(r.stdout)")
            let writes = try f.writes()
            #expect(writes.isEmpty, "\(c) wrote: \(writes.map { "\($0.method) \($0.path) \($0.status)" })")
        }
        #expect(try (0..<4).map { try f.queue("batch\($0)") } == before)
    }

    @Test func theConflictMessageNamesHolderExpiryAndReason() throws {
        let f = try ClusterFixture()
        #expect(try f.batchctl(["claim", "batch1", "--for", "3d", "--reason", "rehash passwords"], as: "alice").status == 0)
        let stored = try #require(try f.queue("batch1").spec.reservation)
        let r = try f.batchctl(["claim", "batch1"], as: "bob")
        #expect(r.status == 3)
        // "(2d)": the policy rounds the time left down, and a moment has passed since the claim.
        let left = #/\((2d|3d)\)/#
        let expected = "error: batch1 is held by alice until \(TimeText.utc(stored.expiresAt)) (3d) for \"rehash passwords\". Run 'batchctl claim --any' to take a free queue, or ask alice to release it.\n"
        #expect(r.stderr.replacing(left, with: "(3d)") == expected, "\(r.stderr)")
    }

    /// deploy/'s RBAC lets bob (batchctl:users) update BatchQueues; deploy/'s admission policy refuses his
    /// change of alice's claim, and batchctl says who may (exit 4). carol, an admin by group only, may.
    @Test func theAdmissionPolicyDecidesForceAndItsRefusalExitsFourWithItsMessage() throws {
        let f = try ClusterFixture()
        #expect(try f.batchctl(["claim", "batch1", "--reason", "reindex"], as: "alice").status == 0)
        let before = try f.queue("batch1")

        let forced = try f.batchctl(["release", "batch1", "--force"], as: "bob")
        #expect(forced.status == 4)
        #expect(forced.stderr.hasPrefix("error: only the holder (alice) or an admin (group batchctl:admins) may release batch1; the API server refused bob: "), "\(forced.stderr)")
        #expect(forced.stderr.contains("ValidatingAdmissionPolicy 'batchctl-batchqueue-rules' with binding 'batchctl-batchqueue-rules' denied request: the reservation is held by alice"),
                "\(forced.stderr)")

        #expect(try f.writes().filter { $0.user == "bob" }.allSatisfy { $0.status == 403 })
        #expect(try f.queue("batch1") == before)

        let admin = try f.batchctl(["release", "batch1", "--force"], as: DeployPolicies.admin)
        #expect(admin.status == 0, "\(admin.stderr)")
        #expect(admin.stdout == "released alice's claim on batch1; the controller scales its workers to zero once busy ones finish\n")
        #expect(try f.queue("batch1").spec.reservation == nil)
    }

    /// The same rule for kubectl: a patch of someone else's reservation is refused by the admission policy.
    @Test func aKubectlPatchOfSomeoneElsesReservationIsRefused() throws {
        let f = try ClusterFixture()
        #expect(try f.batchctl(["claim", "batch2", "--reason", "reindex"], as: "alice").status == 0)
        let before = try f.queue("batch2")
        let patch = #"{"spec":{"reservation":{"holder":"bob","reason":"mine now","claimedAt":"2026-01-01T00:00:00Z","expiresAt":"2026-01-02T00:00:00Z","replicas":2}}}"#
        let r = try f.sim.kubectl(["patch", "batchqueue", "batch2", "-n", ClusterFixture.namespace, "--type", "merge", "-p", patch], context: "bob")
        #expect(r.status != 0)
        #expect(r.stderr.contains("batchqueues.batchctl.dev \"batch2\" is forbidden: ValidatingAdmissionPolicy 'batchctl-batchqueue-rules'"), "\(r.stderr)")
        #expect(try f.queue("batch2") == before)
    }

    /// The BatchQueue rules take their limits from the namespace's BatchQueuePolicy `default` (the binding's
    /// param), as a real API server does: a kubectl claim longer than its reservations.maxDuration is refused
    /// with 422 Invalid; an admin's shorter maxDuration holds for the next write; with no `default` at all,
    /// every write is refused (parameterNotFoundAction: Deny).
    @Test func theAdmissionPolicyTakesItsLimitsFromTheBatchQueuePolicyDefault() throws {
        let f = try ClusterFixture()
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        func claim(_ queue: String, hours: Int) -> (path: String, patch: String) {
            let time = ISO8601DateFormatter()
            let expires = time.string(from: start.addingTimeInterval(Double(hours) * 3600))
            let patch = #"{"spec":{"reservation":{"holder":"alice","reason":"reindex","claimedAt":"\#(time.string(from: start))","expiresAt":"\#(expires)","replicas":2}}}"#
            return ("/apis/batchctl.dev/v1alpha1/namespaces/court-listener/batchqueues/\(queue)", patch)
        }
        func kubectlPatch(_ queue: String, hours: Int) throws -> CommandResult {
            try f.sim.kubectl(["patch", "batchqueue", queue, "-n", ClusterFixture.namespace, "--type", "merge", "-p", claim(queue, hours: hours).patch],
                              context: "alice")
        }
        // kubectl words a 422 as "The batchqueues "batch2" is invalid: : <message>", as with a real API server.
        let denied = "The batchqueues \"batch2\" is invalid: : ValidatingAdmissionPolicy 'batchctl-batchqueue-rules' with binding 'batchctl-batchqueue-rules' denied request: "

        // deploy/base/batchqueuepolicy.yaml: maxDuration 336h.
        let tooLong = try kubectlPatch("batch2", hours: 337)
        #expect(tooLong.status != 0)
        #expect(tooLong.stderr.contains(denied + "spec.reservation: expiresAt - claimedAt is"), "\(tooLong.stderr)")
        #expect(tooLong.stderr.contains("longer than the longest reservation, 336h (BatchQueuePolicy court-listener/default, spec.reservations.maxDuration)"),
                "\(tooLong.stderr)")
        let raw = try f.sim.curl("PATCH", claim("batch2", hours: 337).path, body: claim("batch2", hours: 337).patch,
                                 contentType: "application/merge-patch+json", user: "alice")
        #expect(raw.status == 422, "\(raw.body)")
        #expect(raw.body.contains("\"reason\":\"Invalid\""), "\(raw.body)")
        #expect(try f.queue("batch2").spec.reservation == nil)
        let longest = try kubectlPatch("batch2", hours: 336)
        #expect(longest.status == 0, "\(longest.stderr)")

        // An admin shortens the rules: the next write is held to them.
        let rules = #"{"spec":{"reservations":{"defaultDuration":"1h","maxDuration":"1h"}}}"#
        let shorten = try f.sim.kubectl(["patch", "batchqueuepolicy", "default", "-n", ClusterFixture.namespace, "--type", "merge", "-p", rules],
                                        context: DeployPolicies.admin)
        try #require(shorten.status == 0, "\(shorten.stderr)")
        let overNew = try kubectlPatch("batch3", hours: 2)
        #expect(overNew.status != 0)
        #expect(overNew.stderr.contains("longer than the longest reservation, 1h (BatchQueuePolicy court-listener/default"), "\(overNew.stderr)")
        #expect(try f.queue("batch3").spec.reservation == nil)

        // No BatchQueuePolicy `default`: the binding denies every write to BatchQueues.
        let delete = try f.sim.kubectl(["delete", "batchqueuepolicy", "default", "-n", ClusterFixture.namespace], context: DeployPolicies.admin)
        try #require(delete.status == 0, "\(delete.stderr)")
        let noParams = try kubectlPatch("batch3", hours: 1)
        #expect(noParams.status != 0)
        #expect(noParams.stderr.contains("denied request: failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction"), "\(noParams.stderr)")
        #expect(try f.queue("batch3").spec.reservation == nil)
    }

    @Test func aRefusedTakeoverOfAnExpiredClaimSaysTheControllerClearsItSoon() throws {
        let f = try ClusterFixture()
        // An expired claim the controller has not cleared yet; bob may not change it (deploy/'s admission policy refuses).
        let patch = #"{"spec":{"reservation":{"holder":"alice","claimedAt":"2026-01-01T00:00:00Z","expiresAt":"2026-01-02T00:00:00Z","replicas":2}}}"#
        let p = try f.sim.curl("PATCH", "/apis/batchctl.dev/v1alpha1/namespaces/court-listener/batchqueues/batch3", body: patch,
                               contentType: "application/merge-patch+json")
        try #require(p.status == 200, "\(p.body)")
        let r = try f.batchctl(["claim", "batch3"], as: "bob")
        #expect(r.status == 3)
        #expect(r.stderr.hasPrefix("error: batch3's previous claim by alice expired at 2026-01-02 00:00 UTC but is not cleared yet"), "\(r.stderr)")
        #expect(r.stderr.contains("the controller clears expired claims within seconds: try again shortly"))
    }
}
