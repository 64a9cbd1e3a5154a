import Testing
@testable import BatchCore

/// The cluster-wide "Redis memory high" reminder: decided once per pass by the first queue by name,
/// recorded in that queue's `status.reminders`, at most once per `orphanedEvery` while memory stays high.
@Suite struct RedisMemoryReminderTests {
    static let mib: Int64 = 1_048_576

    /// Three queues (names out of order) with depths, all seeing the same Redis memory.
    static func inputs(used: Int64, max: Int64, log: ReminderLog? = nil, now: KubeTime = Scenario.now) -> [DecideInput] {
        [("batch2", 40), ("batch0", 0), ("batch1", 1_200)].map { name, depth in
            var s = Scenario(deployment: 0, observation: work(depth))
            s.now = now
            if name == "batch0" { s.reminders = log }
            var input = s.input
            input.queue.metadata.name = name
            input.redisMemory = RedisMemoryReading(used: used, max: max)
            return input
        }
    }

    static func memoryReminders(_ decisions: [Decision]) -> [Reminder] {
        decisions.flatMap(\.reminders).filter { $0.kind == .redisMemoryHigh }
    }

    @Test(arguments: [
        ("below the threshold", 700 * mib, 1_000 * mib, 0),
        ("exactly at 80 %", 800 * mib, 1_000 * mib, 0),
        ("above 80 %", 801 * mib, 1_000 * mib, 1),
        ("full", 1_000 * mib, 1_000 * mib, 1),
        ("no maxmemory (0 = no limit) never warns", 50_000 * mib, 0, 0),
    ])
    func threshold(_ name: String, _ used: Int64, _ max: Int64, _ expected: Int) {
        #expect(Self.memoryReminders(decideAll(Self.inputs(used: used, max: max), policy: BatchConfig.defaults)).count == expected, "\(name)")
    }

    @Test func firstQueueByNameCarriesAndRecordsIt() throws {
        let decisions = decideAll(Self.inputs(used: 900 * Self.mib, max: 1_000 * Self.mib), policy: BatchConfig.defaults)
        let carrier = try #require(decisions.firstIndex { $0.reminders.contains { $0.kind == .redisMemoryHigh } })
        #expect(carrier == 1)   // batch0, the second input
        #expect(decisions[carrier].status.reminders?.redisMemoryHighAt == Scenario.now)
        #expect(decisions[0].status.reminders?.redisMemoryHighAt == nil)
        let r = try #require(Self.memoryReminders(decisions).first)
        #expect(r.queue == "batch0")
        #expect(r.holder == nil)
        #expect(r.isWarning)
        #expect(r.reason == "RedisMemoryHigh")
        #expect(r.nextCommand == "batchctl status")
        #expect(r.message.contains("900 MiB of its 1000 MiB maxmemory (90%)"))
        #expect(r.message.contains("Deepest queues: batch1 (1200 tasks), batch2 (40 tasks)."))
    }

    @Test func repeatsAtMostOncePerOrphanedEveryWhileHigh() {
        let policy = BatchConfig.defaults   // orphanedEvery 1 h
        let first = decideAll(Self.inputs(used: 900 * Self.mib, max: 1_000 * Self.mib), policy: policy)
        let log = first[1].status.reminders
        func at(_ seconds: Int64) -> Int {
            let now = KubeTime(secondsSinceEpoch: Scenario.now.secondsSinceEpoch + seconds)
            return Self.memoryReminders(decideAll(Self.inputs(used: 900 * Self.mib, max: 1_000 * Self.mib, log: log, now: now), policy: policy)).count
        }
        #expect(at(1) == 0)
        #expect(at(3_599) == 0)
        #expect(at(3_600) == 1)
    }

    @Test func unknownMemoryOrPausedCarrierStillDecidesPurely() {
        var inputs = Self.inputs(used: 900 * Self.mib, max: 1_000 * Self.mib)
        for i in inputs.indices { inputs[i].redisMemory = nil }
        #expect(Self.memoryReminders(decideAll(inputs, policy: BatchConfig.defaults)).isEmpty)
        // A paused carrier still records and sends it: the reminder does not depend on the queue's state.
        var paused = Self.inputs(used: 900 * Self.mib, max: 1_000 * Self.mib)
        paused[1].queue.spec.paused = true
        #expect(Self.memoryReminders(decideAll(paused, policy: BatchConfig.defaults)).map(\.queue) == ["batch0"])
        // Same input, same output.
        let a = decideAll(Self.inputs(used: 900 * Self.mib, max: 1_000 * Self.mib), policy: BatchConfig.defaults)
        let b = decideAll(Self.inputs(used: 900 * Self.mib, max: 1_000 * Self.mib), policy: BatchConfig.defaults)
        #expect(a == b)
    }
}
