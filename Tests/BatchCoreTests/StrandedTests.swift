import Testing
@testable import BatchCore

/// Stranded in-flight tasks: the classification over delivery and worker start times, and what `decide`
/// does with them. Times are seconds relative to `Scenario.now`.
@Suite struct StrandedTests {
    static let t0 = Scenario.now.secondsSinceEpoch

    static func at(_ s: Int64) -> KubeTime { KubeTime(secondsSinceEpoch: t0 + s) }
    static func delivered(_ pairs: [(Int64, Int)]) -> [DeliveryGroup] { pairs.map { DeliveryGroup(second: t0 + $0.0, count: $0.1) } }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var deliveries: [(Int64, Int)]
        var starts: [Int64]
        var stranded: Int
        var first: Int64?
        var testDescription: String { name }
    }

    // The margin: StrandedTasks.skewMargin = 5 s, plus the second a delivery time is rounded down by. An
    // entry delivered at second s is stranded only when s + 1 + 5 <= the earliest live worker's start.
    static let cases: [Case] = [
        Case(name: "no live worker: every entry is stranded", deliveries: [(-100, 2), (-5, 1)], starts: [], stranded: 3, first: -100),
        Case(name: "delivered long before the only worker started", deliveries: [(-100, 1)], starts: [-40], stranded: 1, first: -100),
        Case(name: "delivered after the worker started: held", deliveries: [(-30, 1)], starts: [-40], stranded: 0, first: nil),
        Case(name: "ETA task delivered at start-up: held", deliveries: [(-40, 3)], starts: [-40], stranded: 0, first: nil),
        Case(name: "mixed: the old one is stranded, the new ones held", deliveries: [(-300, 1), (-10, 2)], starts: [-60], stranded: 1, first: -300),
        Case(name: "two workers: only what predates both is stranded", deliveries: [(-300, 1), (-100, 1), (-10, 1)],
             starts: [-200, -20], stranded: 1, first: -300),
        // Clock skew: the worker's clock (which scored the delivery) runs up to 5 s ahead of the node's.
        Case(name: "skew: delivered 5 s 'before' the start is held", deliveries: [(-45, 1)], starts: [-40], stranded: 0, first: nil),
        Case(name: "skew: delivered 6 s before is stranded", deliveries: [(-46, 1)], starts: [-40], stranded: 1, first: -46),
        Case(name: "skew: delivered 7 s before is stranded", deliveries: [(-47, 1)], starts: [-40], stranded: 1, first: -47),
        Case(name: "skew: delivered 2 s after a start is held", deliveries: [(-38, 1)], starts: [-40], stranded: 0, first: nil),
        Case(name: "nothing in flight", deliveries: [], starts: [-40], stranded: 0, first: nil),
    ]

    @Test(arguments: cases)
    func classification(c: Case) {
        let s = StrandedTasks.classify(deliveries: Self.delivered(c.deliveries), workerStarts: c.starts.map(Self.at))
        #expect(s.count == c.stranded)
        #expect(s.firstDeliveredAt == c.first.map(Self.at))
    }

    @Test func hostileDeliveryTimesSaturate() {
        let s = StrandedTasks.classify(deliveries: [DeliveryGroup(second: .min, count: .max), DeliveryGroup(second: .min + 1, count: .max)],
                                       workerStarts: [])
        #expect(s.count == .max)
        #expect(s.firstDeliveredAt == KubeTime(secondsSinceEpoch: -StrandedTasks.maxSeconds))
    }

    static func stranded(_ inFlight: Int, _ count: Int, deliveredAgo: Int64) -> QueueObservation {
        QueueObservation(depth: 0, inFlight: inFlight, busyWorkers: 0,
                         stranded: StrandedTasks(count: count, firstDeliveredAt: Scenario.ago(deliveredAgo)))
    }

    static var policy: BatchConfig {
        var p = BatchConfig.defaults
        p.idleAfter = .seconds(5)
        p.celery.visibilityTimeout = .seconds(3600)
        return p
    }

    @Test func strandedTasksDoNotKeepWorkersUpAndAreSaidOnce() throws {
        // A worker died mid-task 60 s ago; its replacement is idle. Idle for 10 s > idleAfter 5 s: sleep.
        let s = Scenario(deployment: 2, observation: Self.stranded(1, 1, deliveredAgo: 60), reservation: (2, nil, 600, 86_400), lastActiveAgo: 10)
        let d = s.decide(Self.policy)
        #expect(d.desiredReplicas == 0)
        #expect(d.reason == .idleSleeping)
        #expect(d.status.stranded == 1)
        #expect(d.status.strandedRedeliveryAt == Scenario.ago(60 - 3600))
        let condition = try #require(d.status.conditions?.first { $0.type == ConditionType.tasksStranded })
        #expect(condition.status == "True")
        #expect(condition.reason == "WaitingForRedelivery")
        let reminder = try #require(d.reminders.first { $0.kind == .stranded })
        #expect(reminder.message.hasPrefix("1 task on batch1 was held by a worker that died (delivered at "))
        #expect(reminder.message.contains("Celery redelivers it at \(TimeText.utc(Scenario.ago(60 - 3600))) (visibility_timeout 1h)"))
        #expect(reminder.message.contains("Workers sleep until then"))
        #expect(reminder.holder == "alice@example.org")

        // The next pass (same stranded task) sends no second reminder.
        var again = s
        again.reminders = d.status.reminders
        #expect(again.decide(Self.policy).reminders.filter { $0.kind == .stranded }.isEmpty)
    }

    @Test func heldInFlightStillKeepsWorkers() {
        // Two in flight, one stranded: the other may be held by a live worker, so no sleep.
        let s = Scenario(deployment: 2, observation: Self.stranded(2, 1, deliveredAgo: 60), reservation: (2, nil, 600, 86_400), lastActiveAgo: 10)
        let d = s.decide(Self.policy)
        #expect(d.desiredReplicas == 2)
        #expect(d.reason != .idleSleeping)
    }

    @Test func aStrandedTaskPastItsRedeliveryTimeWakesAWorker() {
        // kombu restores only while a consumer polls: once due, the task is work again.
        let s = Scenario(deployment: 0, observation: Self.stranded(1, 1, deliveredAgo: 3601), reservation: (2, nil, 7200, 86_400), lastActiveAgo: 3000)
        let d = s.decide(Self.policy)
        #expect((d.desiredReplicas ?? 0) > 0)
        #expect(d.status.conditions?.first { $0.type == ConditionType.tasksStranded }?.reason == "RedeliveryDue")
    }

    @Test func theIdleClockIgnoresStrandedInFlight() {
        // Status from the last pass had inFlight 1 of which 1 stranded: that was no work, so the idle
        // clock is not restarted now.
        var s = Scenario(deployment: 2, observation: Self.stranded(1, 1, deliveredAgo: 60), reservation: (2, nil, 600, 86_400), lastActiveAgo: 3)
        s.now = Scenario.now
        let d = s.decide(Self.policy)
        #expect(d.status.lastActiveAt == Scenario.ago(3))
        #expect(d.reason == .waitingForWork)
    }
}
