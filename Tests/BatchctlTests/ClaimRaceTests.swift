import BatchCore
import BatchTesting
import Foundation
import Testing

/// Acceptance 1: 50 users claim batch1 at once; the API server's optimistic concurrency picks one.
@Suite struct ClaimRaceTests {
    @Test func fiftyConcurrentClaimsLeaveExactlyOneHolder() throws {
        let f = try ClusterFixture(extraUsers: 50)
        // Every BatchQueue PATCH waits 2 s in KubeSim before it is applied, so the runs that start while the first
        // write is in flight all read the same resourceVersion and race for real: one write wins, the rest get 409.
        try f.sim.setFaults("patch /apis/batchctl.dev/v1alpha1/namespaces/*/batchqueues/* latencyMs=2000")
        try f.sim.clearRequests()
        let users = (1...50).map(ClusterFixture.user)
        // All 50 started before any is waited for; each is bounded and stopped by pid.
        let race = try ClaimRace.run(queue: "batch1", users: users, kubeconfig: f.sim.kubeconfigPath, environment: f.environment)
        let statuses = race.statuses
        let winners = users.indices.filter { statuses[$0] == 0 }
        try #require(winners.count == 1, "exit statuses: \(statuses); stderr of the first: \(race.stderr[0])")
        let winner = users[winners[0]]
        for i in users.indices where i != winners[0] {
            #expect(statuses[i] == 3, "\(users[i]): \(String(describing: statuses[i])) \(race.stderr[i])")
            #expect(race.stderr[i].hasPrefix("error: batch1 is held by \(winner) until "), "\(users[i]): \(race.stderr[i])")
            #expect(race.stderr[i].contains("for \"race \(winner)\". Run 'batchctl claim --any' to take a free queue, or ask \(winner) to release it."))
        }
        #expect(race.stdout[winners[0]].hasPrefix("claimed batch1 for \(winner): until "))

        // The object holds one whole claim: every field from the winner's request.
        let stored = try f.queue("batch1")
        let r = try #require(stored.spec.reservation)
        #expect(r.holder == winner)
        #expect(r.reason == "race \(winner)")
        #expect(r.replicas == 5)
        #expect(r.expiresAt == r.claimedAt.adding(.days(2)))
        #expect(stored.spec.deployment == "celery-batch1" && stored.spec.maxReplicas == 20)

        // Exactly one write succeeded; every other attempt was refused by the resourceVersion precondition.
        let patches = try f.writes().filter { $0.path.hasSuffix("/batchqueues/batch1") }
        #expect(patches.allSatisfy { $0.method == "PATCH" })
        #expect(patches.filter { $0.status == 200 }.count == 1)
        #expect(patches.filter { $0.status == 200 }.first?.user == winner)
        #expect(patches.allSatisfy { $0.status == 200 || $0.status == 409 }, "\(patches.map(\.status))")
        #expect(patches.contains { $0.status == 409 }, "no run lost a write race: the resourceVersion precondition was not exercised")
        #expect(patches.allSatisfy { $0.body?.contains("\"resourceVersion\"") == true })
    }
}
