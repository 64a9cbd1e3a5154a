import PropertyBased
import Testing
@testable import BatchCore

/// Invariants of `decide` over random scenarios (a scenario is built from 16 random numbers, so a failure
/// prints the numbers that reproduce it).
@Suite struct DecidePropertyTests {
    static let numbers = Gen.int(in: 0...1_000_000).array(of: 16)

    static func scenario(_ n: [Int]) -> (Scenario, BatchConfig) {
        var p = BatchConfig.defaults
        p.tasksPerReplica = n[0] % 3 == 0 ? n[0] % 50 : 0
        p.rampUp = RampUp(step: 1 + n[1] % 4, every: .seconds(Int64([0, 10, 30][n[1] % 3])))
        var s = Scenario()
        s.paused = n[2] % 10 == 0
        s.deployment = n[3] % 20 == 0 ? nil : n[3] % 26
        s.ready = s.deployment.map { n[4] % ($0 + 1) }
        let busy = n[5] % 4 == 0 ? n[5] % 5 : 0
        s.observation = n[6] % 8 == 0 ? nil : QueueObservation(depth: n[7] % 3 == 0 ? 0 : n[7] % 2_000, inFlight: n[8] % 4 == 0 ? n[8] % 30 : 0, busyWorkers: busy)
        if n[9] % 4 != 0 {
            let bands: [String?] = [nil, "small", "medium", "big", "huge"]
            s.reservation = (1 + n[10] % 30, bands[n[10] % 5], Int64(n[11] % 300_000), Int64(n[12] % 400_000) - 100_000)
        }
        s.maxReplicas = n[13] % 3 == 0 ? 1 + n[13] % 40 : nil
        s.lastActiveAgo = n[14] % 2 == 0 ? Int64(n[14] % 5_000) : nil
        s.lastScaleUpAgo = n[15] % 2 == 0 ? Int64(n[15] % 60) : nil
        s.drainingSinceAgo = n[14] % 3 == 0 ? Int64(n[15] % 8_000) : nil
        s.budget = n[2] % 41
        return (s, p)
    }

    @Test func neverAboveCeilingBandOrBudgetExceptToKeepBusyWorkers() async {
        await propertyCheck(count: 3_000, input: Self.numbers) { n in
            let (s, p) = Self.scenario(n)
            let d = s.decide(p)
            guard let desired = d.desiredReplicas, let current = s.deployment, let obs = s.observation else { return }
            let keepBusy = min(obs.busyWorkers, current)
            #expect(desired >= 0)
            if let r = s.reservation, r.expiresIn > 0, !s.paused {
                let approvedCap = r.band == "big" ? max(20, s.maxReplicas ?? 20) : (r.band == "small" ? 10 : 10)
                let ceiling = min(r.replicas, s.maxReplicas ?? 20, approvedCap)
                #expect(desired <= max(ceiling, keepBusy), "\(n)")
                #expect(desired <= max(s.budget, keepBusy, min(current, ceiling)), "\(n)")
                if desired > current { #expect(desired <= s.budget && desired <= ceiling, "\(n)") }
            } else {
                #expect(desired <= keepBusy, "\(n)")
            }
        }
    }

    @Test func neverScalesDownOnAnUnknownObservation() async {
        await propertyCheck(count: 1_000, input: Self.numbers) { n in
            var (s, p) = Self.scenario(n)
            s.observation = nil
            let d = s.decide(p)
            if let current = s.deployment, !s.paused {
                #expect(d.desiredReplicas == current, "\(n)")
                #expect(d.reason == .observationUnknown)
            }
        }
    }

    @Test func pausedNeverChangesReplicas() async {
        await propertyCheck(count: 1_000, input: Self.numbers) { n in
            var (s, p) = Self.scenario(n)
            s.paused = true
            let d = s.decide(p)
            #expect(d.desiredReplicas == nil, "\(n)")
            #expect(d.phase == .paused)
        }
    }

    @Test func applyingADecisionAndDecidingAgainChangesNothing() async {
        await propertyCheck(count: 3_000, input: Self.numbers) { n in
            let (s, p) = Self.scenario(n)
            let first = s.decide(p)
            var input = s.input
            if let desired = first.desiredReplicas, var deployment = input.deployment {
                deployment.readyReplicas = min(deployment.readyReplicas, desired)
                deployment.replicas = desired
                input.deployment = deployment
            }
            input.queue.status = first.status
            if first.clearReservation { input.queue.spec.reservation = nil }
            let second = BatchCore.decide(input, policy: p)
            #expect(second.desiredReplicas == first.desiredReplicas, "\(n)")
            #expect(second.phase == first.phase, "\(n)")
            #expect(second.reminders.isEmpty, "\(n)")
            #expect(second.events.isEmpty, "\(n)")
            #expect(!second.clearReservation, "\(n)")
            var a = first.status, b = second.status
            a.replicas = nil; a.readyReplicas = nil; b.replicas = nil; b.readyReplicas = nil
            #expect(a == b, "\(n)")
        }
    }

    @Test func decideAllNeverExceedsTheBudgetWithoutBusyWorkers() async {
        await propertyCheck(count: 500, input: Self.numbers.array(of: 4)) { many in
            var p = BatchConfig.defaults
            p.totalReplicaBudget = 12
            var inputs: [DecideInput] = []
            for (i, n) in many.enumerated() {
                var (s, _) = Self.scenario(n)
                s.paused = false
                s.deployment = 0
                if var o = s.observation { o.busyWorkers = 0; s.observation = o }
                var input = s.input
                input.queue.metadata.name = "batch\(i)"
                inputs.append(input)
            }
            let total = decideAll(inputs, policy: p).compactMap(\.desiredReplicas).reduce(0, +)
            #expect(total <= 12, "\(many)")
        }
    }
}
