import BatchCore
import BatchTesting
import Foundation

/// The scaling policy in-process: `decideAll` over 4, 100 and 1,000 queues in a mix of states, as the
/// controller calls it on every pass. Reported per queue.
struct DecideBenchmark: Benchmark {
    let name = "decide"
    let summary = "decideAll per queue over 4/100/1,000 queues in six states, in-process (seconds)"

    /// A queue's state in the mix; each gets an equal share of the queues, in turn.
    enum State: CaseIterable {
        case free, ramping, sleeping, orphaned, expired, paused

        /// What `decide` must answer for it (checked before timing, so the mix is what it claims to be).
        var reason: DecisionReason {
            switch self {
            case .free: .free
            case .ramping: .rampingUp
            case .sleeping: .idleSleeping
            case .orphaned: .orphanedTasks
            case .expired: .expired
            case .paused: .paused
            }
        }
    }

    static let now = KubeTime(secondsSinceEpoch: 1_800_000_000)

    func run() async throws -> [Figure] {
        var figures: [Figure] = []
        for n in [4, 100, 1000] {
            var policy = BatchConfig.defaults
            policy.totalReplicaBudget = max(40, n * 5)   // as the controller benchmarks configure it
            let inputs = try steadyInputs(count: n, policy: policy)
            // Enough passes per sample to take about a millisecond, so the clock's resolution does not matter.
            let clock = ContinuousClock()
            var sink = 0
            let once = clock.measure { sink &+= checksum(decideAll(inputs, policy: policy)) }
            let passes = max(1, Int(0.001 / max(once.seconds, 1e-9)))
            let runs = 300
            var perQueue: [Double] = []   // seconds
            for run in 0..<(runs + runs / 10) {
                let took = clock.measure {
                    for _ in 0..<passes { sink &+= checksum(decideAll(inputs, policy: policy)) }
                }
                if run >= runs / 10 { perQueue.append(took.seconds / Double(passes * n)) }   // the first tenth warms up
            }
            guard sink != 0 else { throw BenchError("decideAll returned nothing") }
            let p = try Percentiles(perQueue)
            figures.append(Figure(
                name: "decide per queue, \(n) queues", medianText: Self.micro(p.median), p90Text: Self.micro(p.p90), runs: perQueue.count,
                notes: String(format: "`decideAll` in-process, release build; queues in equal shares free / reserved ramping up / sleeping / orphaned tasks / expired / paused, each with the status of its previous pass; %d pass(es) per sample; a whole pass over %d queues: %.3f ms (median)", passes, n, p.median * Double(n) * 1000)))
            print("decide, \(n) queues: median \(Self.micro(p.median)), p90 \(Self.micro(p.p90)) per queue, \(passes) passes per sample")
        }
        return figures
    }

    /// Inputs as the controller builds them in a steady state: each queue's status is what its previous
    /// pass wrote (conditions, reminder log), with the ramp's last step kept 40 s ago so ramping continues.
    func steadyInputs(count n: Int, policy: BatchConfig) throws -> [DecideInput] {
        let states = (0..<n).map { State.allCases[$0 % State.allCases.count] }
        var inputs = states.enumerated().map { input(index: $0.offset, state: $0.element) }
        let first = decideAll(inputs, policy: policy)
        for i in inputs.indices {
            var status = first[i].status
            status.lastScaleUpAt = inputs[i].queue.status?.lastScaleUpAt
            inputs[i].queue.status = status
        }
        let reasons = decideAll(inputs, policy: policy).map(\.reason)
        for (i, state) in states.enumerated() where reasons[i] != state.reason {
            throw BenchError("decide input \(i) (\(state)) gave \(reasons[i]), not \(state.reason)")
        }
        return inputs
    }

    func input(index i: Int, state: State) -> DecideInput {
        func ago(_ seconds: Int64) -> KubeTime { KubeTime(secondsSinceEpoch: Self.now.secondsSinceEpoch - seconds) }
        func held(claimedAgo: Int64, expiresIn: Int64, replicas: Int = 8) -> Reservation {
            Reservation(holder: "dev\(i)@example.org", reason: "reindex opinions", claimedAt: ago(claimedAgo),
                        expiresAt: ago(-expiresIn), replicas: replicas)
        }
        var reservation: Reservation?
        var paused = false
        var observation = QueueObservation(depth: 0, inFlight: 0, busyWorkers: 0)
        var replicas = 0
        var status = BatchQueueStatus()
        switch state {
        case .free:
            break
        case .ramping:
            reservation = held(claimedAgo: 600, expiresIn: 2 * 86_400)
            observation = QueueObservation(depth: 250, inFlight: 2, busyWorkers: 2)
            replicas = 2
            status.lastScaleUpAt = ago(40)
        case .sleeping:
            reservation = held(claimedAgo: 86_400, expiresIn: 86_400)
            status.lastActiveAt = ago(7_200)
        case .orphaned:
            observation = QueueObservation(depth: 40, inFlight: 0, busyWorkers: 0)
        case .expired:
            reservation = held(claimedAgo: 2 * 86_400, expiresIn: -60)
            replicas = 4
        case .paused:
            reservation = held(claimedAgo: 600, expiresIn: 86_400)
            paused = true
            observation = QueueObservation(depth: 10, inFlight: 0, busyWorkers: 0)
            replicas = 3
        }
        let queue = BatchQueue(metadata: ObjectMeta(name: "q\(i)", namespace: "court-listener", generation: 3),
                               spec: BatchQueueSpec(queue: "q\(i)", deployment: "celery-q\(i)", maxReplicas: 20, paused: paused,
                                                    reservation: reservation),
                               status: status)
        return DecideInput(queue: queue, observation: observation,
                           deployment: DeploymentState(name: "celery-q\(i)", replicas: replicas, readyReplicas: replicas, selector: ["app": "celery-q\(i)"]),
                           redisMemory: RedisMemoryReading(used: 200 << 20, max: 1 << 30), now: Self.now)
    }

    /// Something of every decision, so the optimiser cannot drop the calls.
    func checksum(_ decisions: [Decision]) -> Int {
        decisions.reduce(0) { $0 &+ ($1.desiredReplicas ?? 1) &+ ($1.status.conditions?.count ?? 0) &+ $1.reminders.count }
    }

    static func micro(_ seconds: Double) -> String { String(format: "%.3f µs", seconds * 1e6) }
}
