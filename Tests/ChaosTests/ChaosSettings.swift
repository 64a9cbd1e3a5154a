import BatchTesting
import Foundation

/// The two forms of the chaos suite. `BATCHCTL_CHAOS=full` (what `make chaos` sets) runs the numbers of
/// issue #12; without it (inside `make test`) a short form runs the same scenarios with smaller numbers.
/// `BATCHCTL_CHAOS_SEED=N` replays a run: every random choice (kill moments, fault draws of the test's
/// own schedule) comes from generators seeded with it. KubeSim draws its fault probabilities itself.
struct ChaosSettings: Sendable, CustomStringConvertible {
    static let current = ChaosSettings(environment: ProcessInfo.processInfo.environment)

    let full: Bool
    let seed: UInt64

    init(environment: [String: String]) {
        full = environment["BATCHCTL_CHAOS"] == "full"
        seed = environment["BATCHCTL_CHAOS_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64(UInt32.max))
    }

    /// How long Redis is down.
    var redisOutage: Duration { full ? .seconds(30) : .seconds(5) }
    /// How long KubeSim injects faults in the fault scenario.
    var faultWindow: Duration { full ? .seconds(60) : .seconds(15) }
    /// `kill -9`s of the controller, each followed by a restart.
    var kills: Int { full ? 50 : 5 }
    /// Leader failovers (kill -9 of the leader with a standby running).
    var failovers: Int { full ? 3 : 1 }
    /// Concurrent `batchctl claim` processes on one queue.
    var racers: Int { full ? 50 : 10 }

    var description: String {
        "chaos form \(full ? "full" : "short"), seed \(seed) (replay with BATCHCTL_CHAOS_SEED=\(seed)\(full ? " BATCHCTL_CHAOS=full" : ""))"
    }

    /// A generator for one scenario: the same seed gives the same choices.
    func generator(_ scenario: UInt64) -> SeededGenerator { SeededGenerator(seed: seed &+ scenario &* 0x9E37_79B9_7F4A_7C15) }
}
