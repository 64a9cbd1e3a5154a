import Testing
@testable import BatchCore

/// Guards in `decide`: a step up needs every guard healthy; failing or unknown holds; failing for
/// `rampUp.stepBackAfter` takes one replica off (never below the busy workers, never below 1 with work).
@Suite struct GuardTests {
    static let now = Scenario.now
    static let held: (replicas: Int, band: String?, claimedAgo: Int64, expiresIn: Int64) = (6, nil, 600, 2 * 86_400)

    /// The defaults with two guards (one with `for: 30s`), ramp 2 per 30 s, step back after 60 s.
    static var policy: BatchConfig {
        var p = BatchConfig.defaults
        p.policy.guards = [Guard(name: "db", expr: "sum(pg_stat_activity_count) < 80"),
                           Guard(name: "redis", expr: "redis_memory_used_bytes < 1e9", forDuration: .seconds(30))]
        p.rampUp = RampUp(step: 2, every: .seconds(30), stepBackAfter: .seconds(60))
        return p
    }

    /// The expressions of the policy's guards, by name (readings are by expression).
    static let expr = ["db": "sum(pg_stat_activity_count) < 80", "redis": "redis_memory_used_bytes < 1e9"]
    static func byExpr(_ readings: [String: GuardReading]) -> [String: GuardReading] {
        Dictionary(uniqueKeysWithValues: readings.map { (expr[$0.key] ?? $0.key, $0.value) })
    }

    /// A guard's recorded state `ago` seconds back.
    static func recorded(_ name: String, _ state: String, since ago: Int64) -> GuardStatus {
        GuardStatus(name: name, state: state, value: "1", valueAt: Scenario.ago(ago), since: Scenario.ago(ago))
    }

    struct Case: CustomStringConvertible, Sendable {
        var name: String
        var replicas: Int
        var observation: QueueObservation
        var readings: [String: GuardReading]
        var previous: [GuardStatus] = []
        var steppedBackAgo: Int64? = nil
        var lastScaleUpAgo: Int64? = 300
        var expected: Int
        var reason: DecisionReason
        var condition: String?   // the Guarded condition's reason, nil when False
        var description: String { name }
    }

    static let healthyLong = [recorded("db", GuardStatus.healthy, since: 600), recorded("redis", GuardStatus.healthy, since: 600)]
    static let bothHealthy: [String: GuardReading] = ["db": .healthy(value: 12), "redis": .healthy(value: 1e6)]

    @Test(arguments: [
        Case(name: "all healthy long enough: the ramp steps up", replicas: 2, observation: work(100), readings: bothHealthy,
             previous: healthyLong, expected: 4, reason: .rampingUp, condition: nil),
        Case(name: "a guard healthy for less than its for: held", replicas: 2, observation: work(100), readings: bothHealthy,
             previous: [recorded("db", GuardStatus.healthy, since: 600), recorded("redis", GuardStatus.healthy, since: 10)],
             expected: 2, reason: .guardHeld, condition: "GuardRecovering"),
        Case(name: "a failing guard holds a step up", replicas: 2, observation: work(100), readings: ["db": .failing, "redis": .healthy(value: 1)],
             previous: healthyLong, expected: 2, reason: .guardHeld, condition: "GuardFailing"),
        Case(name: "Prometheus unreachable holds", replicas: 2, observation: work(100),
             readings: ["db": .unknown(reason: "Prometheus unreachable at http://127.0.0.1:1"), "redis": .unknown(reason: "Prometheus unreachable at http://127.0.0.1:1")],
             previous: healthyLong, expected: 2, reason: .guardHeld, condition: "PrometheusUnreachable"),
        Case(name: "a query error holds", replicas: 2, observation: work(100), readings: ["db": .unknown(reason: "the query failed: bad_data"), "redis": .healthy(value: 1)],
             previous: healthyLong, expected: 2, reason: .guardHeld, condition: "GuardUnknown"),
        Case(name: "a guard not read this pass holds (unknown is not healthy)", replicas: 2, observation: work(100), readings: ["redis": .healthy(value: 1)],
             previous: healthyLong, expected: 2, reason: .guardHeld, condition: "GuardUnknown"),
        Case(name: "waking from zero is a step up: held too", replicas: 0, observation: work(100), readings: ["db": .failing, "redis": .healthy(value: 1)],
             previous: healthyLong, expected: 0, reason: .guardHeld, condition: "GuardFailing"),
        Case(name: "failing, not yet for stepBackAfter: held at the ramp's level", replicas: 4, observation: work(100), readings: ["db": .failing, "redis": .healthy(value: 1)],
             previous: [recorded("db", GuardStatus.failing, since: 59), recorded("redis", GuardStatus.healthy, since: 600)],
             lastScaleUpAgo: 10, expected: 4, reason: .rampWaiting, condition: "GuardFailing"),
        Case(name: "failing for stepBackAfter: one replica off", replicas: 4, observation: work(100), readings: ["db": .failing, "redis": .healthy(value: 1)],
             previous: [recorded("db", GuardStatus.failing, since: 60), recorded("redis", GuardStatus.healthy, since: 600)],
             expected: 3, reason: .guardSteppedBack, condition: "GuardFailing"),
        Case(name: "stepped back recently: no second step yet", replicas: 3, observation: work(100), readings: ["db": .failing, "redis": .healthy(value: 1)],
             previous: [recorded("db", GuardStatus.failing, since: 100), recorded("redis", GuardStatus.healthy, since: 600)],
             steppedBackAgo: 40, expected: 3, reason: .guardHeld, condition: "GuardFailing"),
        Case(name: "a further stepBackAfter: one more off", replicas: 3, observation: work(100), readings: ["db": .failing, "redis": .healthy(value: 1)],
             previous: [recorded("db", GuardStatus.failing, since: 200), recorded("redis", GuardStatus.healthy, since: 600)],
             steppedBackAgo: 60, expected: 2, reason: .guardSteppedBack, condition: "GuardFailing"),
        Case(name: "never below the busy workers", replicas: 3, observation: work(100, busy: 3), readings: ["db": .failing, "redis": .healthy(value: 1)],
             previous: [recorded("db", GuardStatus.failing, since: 600), recorded("redis", GuardStatus.healthy, since: 600)],
             expected: 3, reason: .guardHeld, condition: "GuardFailing"),
        Case(name: "never below 1 while work remains", replicas: 1, observation: work(100), readings: ["db": .failing, "redis": .healthy(value: 1)],
             previous: [recorded("db", GuardStatus.failing, since: 600), recorded("redis", GuardStatus.healthy, since: 600)],
             expected: 1, reason: .guardHeld, condition: "GuardFailing"),
        Case(name: "unknown for long never steps back", replicas: 4, observation: work(100), readings: ["db": .unknown(reason: "Prometheus unreachable"), "redis": .healthy(value: 1)],
             previous: [recorded("db", GuardStatus.unknown, since: 600), recorded("redis", GuardStatus.healthy, since: 600)],
             expected: 4, reason: .guardHeld, condition: "PrometheusUnreachable"),
        Case(name: "a scale-down is never held", replicas: 8, observation: work(100), readings: ["db": .failing, "redis": .healthy(value: 1)],
             previous: [recorded("db", GuardStatus.failing, since: 600), recorded("redis", GuardStatus.healthy, since: 600)],
             expected: 6, reason: .scalingDown, condition: "GuardFailing"),
        Case(name: "no work: guards change nothing", replicas: 6, observation: work(0), readings: ["db": .failing, "redis": .healthy(value: 1)],
             previous: [recorded("db", GuardStatus.failing, since: 600), recorded("redis", GuardStatus.healthy, since: 600)],
             expected: 6, reason: .waitingForWork, condition: "GuardFailing"),
    ])
    func aGuardedRampFollowsTheTable(_ c: Case) {
        var s = Scenario(deployment: c.replicas, observation: c.observation, reservation: Self.held, lastActiveAgo: 1, lastScaleUpAgo: c.lastScaleUpAgo)
        s.maxReplicas = 20
        var input = s.input
        input.queue.status?.guards = c.previous
        input.queue.status?.guardSteppedBackAt = c.steppedBackAgo.map { Scenario.ago($0) }
        input.guards = Self.byExpr(c.readings)
        let d = decide(input, policy: Self.policy)
        #expect(d.desiredReplicas == c.expected, "\(c.name)")
        #expect(d.reason == c.reason, "\(c.name)")
        let condition = d.status.conditions?.first { $0.type == ConditionType.guarded }
        if let reason = c.condition {
            #expect(condition?.status == "True" && condition?.reason == reason, "\(c.name): \(String(describing: condition))")
            #expect(condition?.message.contains("guard") == true)
        } else {
            #expect(condition?.status == "False", "\(c.name)")
        }
        #expect(d.status.guards?.map(\.name) == ["db", "redis"])
    }

    @Test func theFirstTripAndTheRecoveryEachSendOneReminder() {
        var s = Scenario(deployment: 2, observation: work(100), reservation: Self.held, lastActiveAgo: 1, lastScaleUpAgo: 300)
        s.maxReplicas = 20
        var input = s.input
        input.queue.status?.guards = Self.healthyLong
        input.guards = Self.byExpr(["db": .failing, "redis": .healthy(value: 5)])
        let tripped = decide(input, policy: Self.policy)
        #expect(tripped.reminders.map(\.kind) == [.guardTripped])
        #expect(tripped.reminders.first?.message.contains("guard db is failing") == true)
        #expect(tripped.heldBy == ["db"])

        input.queue.status = tripped.status   // the next pass, still failing: no second reminder
        input.now = KubeTime(secondsSinceEpoch: Self.now.secondsSinceEpoch + 1)
        #expect(decide(input, policy: Self.policy).reminders.isEmpty)

        input.guards = Self.byExpr(Self.bothHealthy)
        let recovered = decide(input, policy: Self.policy)
        #expect(recovered.reminders.map(\.kind) == [.guardRecovered])
        #expect(recovered.status.conditions?.first { $0.type == ConditionType.guarded }?.status == "False")
        // The guard that failed is healthy only since now: it has no `for`, so the ramp steps up at once.
        #expect(recovered.desiredReplicas == 4)
    }

    @Test func guardsDoNothingForAnUnclaimedQueueOrWithoutGuards() {
        var input = Scenario(deployment: 0, observation: work(10)).input
        input.guards = Self.byExpr(["db": .failing])
        let free = decide(input, policy: Self.policy)
        #expect(free.status.guards == nil)
        #expect(free.status.conditions?.contains { $0.type == ConditionType.guarded } != true)

        var s = Scenario(deployment: 2, observation: work(100), reservation: Self.held, lastActiveAgo: 1, lastScaleUpAgo: 300)
        s.maxReplicas = 20
        let unguarded = decide(s.input, policy: BatchConfig.defaults)
        #expect(unguarded.desiredReplicas == 4)
        #expect(unguarded.status.guards == nil)
    }

    @Test func aQueueAddsItsOwnGuardsAndReplacesAPolicyGuardOfTheSameName() {
        var s = Scenario(deployment: 2, observation: work(100), reservation: Self.held, lastActiveAgo: 1, lastScaleUpAgo: 300)
        s.maxReplicas = 20
        var input = s.input
        input.queue.status?.guards = Self.healthyLong
        input.queue.spec.guards = [QueueGuard(name: "es", expr: "max(elasticsearch_thread_pool_queue_count) < 50"),
                                   QueueGuard(name: "redis", expr: "redis_up == 1")]
        input.guards = Self.byExpr(["db": .healthy(value: 1), "redis": .failing])   // the policy's redis guard is not this queue's
        input.guards["redis_up == 1"] = .healthy(value: 1)
        input.guards["max(elasticsearch_thread_pool_queue_count) < 50"] = .failing
        let d = decide(input, policy: Self.policy)
        #expect(d.status.guards?.map(\.name) == ["db", "redis", "es"])
        #expect(d.desiredReplicas == 2)
        #expect(d.heldBy == ["es"])

        input.queue.spec.guards = [QueueGuard(name: "es", expr: "up", for: "1 fortnight")]
        input.guards = Self.byExpr(Self.bothHealthy)
        input.guards["up"] = .healthy(value: 1)
        let invalid = decide(input, policy: Self.policy)
        #expect(invalid.desiredReplicas == 2)
        #expect(invalid.status.guards?.last?.reason?.contains("spec.guards[0].for \"1 fortnight\" of the BatchQueue is not a duration") == true)
    }

    @Test func guardValuesPrintAsPrometheusDoes() {
        #expect(GuardReading.text(42) == "42")
        #expect(GuardReading.text(0.75) == "0.75")
        #expect(GuardReading.text(.infinity) == "+Inf")
        #expect(GuardReading.text(.nan) == "NaN")
    }
}
