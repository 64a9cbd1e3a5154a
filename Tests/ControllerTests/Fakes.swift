import BatchCore
import Controller
import Synchronization

/// A settable clock.
final class TestClock: Sendable {
    private let seconds = Mutex<Int64>(1_800_000_000)
    var now: KubeTime { KubeTime(secondsSinceEpoch: seconds.withLock { $0 }) }
    func advance(_ s: Int64) { seconds.withLock { $0 += s } }
}

struct FakeError: Error, CustomStringConvertible {
    let description: String
}

/// Redis as a value the test sets.
final class FakeObserver: QueueObserver {
    private let state = Mutex<(snapshot: RedisSnapshot, failing: Bool, asked: [String])>((RedisSnapshot(queues: [:]), false, []))
    func set(_ queues: [String: (Int, Int)], workers: [WorkerActivity] = []) {
        state.withLock {
            $0.snapshot = RedisSnapshot(readings: queues.map { QueueReading(name: $0.key, depth: $0.value.0, inFlight: $0.value.1) },
                                        memory: RedisMemoryReading(used: 1 << 20, max: 0), workers: workers)
            $0.failing = false
        }
    }
    func fail() { state.withLock { $0.failing = true } }
    func setMemory(used: Int64, max: Int64) { state.withLock { $0.snapshot.memory = RedisMemoryReading(used: used, max: max) } }
    /// The queue names of the last observation: the BatchQueues the reconciler saw.
    var observed: [String] { state.withLock { $0.asked } }
    func observe(queues: [String]) async throws -> RedisSnapshot {
        let (snapshot, failing) = state.withLock { s in
            s.asked = queues
            return (s.snapshot, s.failing)
        }
        if failing { throw FakeError(description: "connection refused (127.0.0.1:6379)") }
        return RedisSnapshot(queues: snapshot.queues.filter { queues.contains($0.key) }, memory: snapshot.memory, workers: snapshot.workers)
    }
}

/// The cluster as values; every write is applied and recorded.
final class FakeCluster: ClusterClient {
    struct State {
        var queues: [BatchQueue] = []
        var deployments: [String: DeploymentState] = [:]
        var pods: [PodState] = []
        var writes: [String] = []
        var events: [ControllerEvent] = []
        var failStatusWrites = false
        var policy: PolicyState?
    }
    let state = Mutex(State())

    /// BatchQueues `names` in court-listener (generation 1), each for the Deployment `celery-<name>` with a
    /// ceiling of 20 replicas.
    convenience init(queues names: [String]) {
        self.init(queues: names.map { name in
            BatchQueue(metadata: ObjectMeta(name: name, namespace: "court-listener", generation: 1),
                       spec: BatchQueueSpec(queue: name, deployment: "celery-\(name)", maxReplicas: 20))
        })
    }

    init(queues: [BatchQueue]) {
        state.withLock { s in
            s.queues = queues
            for q in queues {
                s.deployments[q.spec.deployment] = DeploymentState(name: q.spec.deployment, replicas: 0, readyReplicas: 0,
                                                                   selector: ["app": q.spec.deployment])
            }
        }
    }

    var writes: [String] { state.withLock { $0.writes } }
    var events: [ControllerEvent] { state.withLock { $0.events } }
    func queue(_ name: String) -> BatchQueue { state.withLock { $0.queues.first { $0.metadata.name == name }! } }
    func replicas(_ deployment: String) -> Int { state.withLock { $0.deployments[deployment]!.replicas } }
    func setReplicas(_ deployment: String, _ n: Int) { state.withLock { $0.deployments[deployment]!.replicas = n } }
    func update(_ name: String, _ change: (inout BatchQueue) -> Void) {
        state.withLock { s in
            let i = s.queues.firstIndex { $0.metadata.name == name }!
            change(&s.queues[i])
        }
    }
    func addPods(_ deployment: String, _ names: [String]) {
        state.withLock { s in
            for n in names { s.pods.append(PodState(name: n, labels: ["app": deployment])) }
        }
    }
    func pod(_ name: String) -> PodState? { state.withLock { $0.pods.first { $0.name == name } } }
    func setReady(_ pod: String, _ ready: Bool) {
        state.withLock { s in
            if let i = s.pods.firstIndex(where: { $0.name == pod }) { s.pods[i].ready = ready }
        }
    }
    func failStatusWrites(_ fail: Bool) { state.withLock { $0.failStatusWrites = fail } }
    func setPolicy(_ policy: PolicyState?) { state.withLock { $0.policy = policy } }
    /// The worker container's command and args of `deployment`, as `KubeCluster` reads them.
    func setWorkerArguments(_ deployment: String, _ arguments: [String]?) {
        state.withLock { $0.deployments[deployment]!.workerArguments = arguments }
    }

    func snapshot() async throws -> ClusterSnapshot {
        state.withLock { ClusterSnapshot(queues: $0.queues, deployments: $0.deployments, pods: $0.pods, policy: $0.policy) }
    }
    func scale(deployment: String, to replicas: Int) async throws {
        state.withLock {
            $0.deployments[deployment]!.replicas = replicas
            $0.deployments[deployment]!.readyReplicas = replicas
            $0.writes.append("scale \(deployment) \(replicas)")
        }
    }
    func updateStatus(of queue: BatchQueue, to status: BatchQueueStatus) async throws -> BatchQueue {
        try state.withLock { s in
            if s.failStatusWrites { throw FakeError(description: "500 Internal Server Error") }
            let i = s.queues.firstIndex { $0.metadata.name == queue.metadata.name }!
            s.queues[i].status = status
            s.writes.append("status \(queue.metadata.name!)")
            return s.queues[i]
        }
    }
    func writeReservation(of queue: BatchQueue, to reservation: Reservation?) async throws -> BatchQueue {
        state.withLock { s in
            let i = s.queues.firstIndex { $0.metadata.name == queue.metadata.name }!
            s.queues[i].spec.reservation = reservation
            s.writes.append("\(reservation == nil ? "clear" : "clamp") \(queue.metadata.name!)")
            return s.queues[i]
        }
    }
    func setDeletionCost(pod: String, cost: Int?) async throws {
        state.withLock { s in
            let i = s.pods.firstIndex { $0.name == pod }!
            s.pods[i].deletionCost = cost
            s.writes.append("cost \(pod) \(cost.map(String.init) ?? "nil")")
        }
    }
    func record(_ event: ControllerEvent) async throws {
        state.withLock {
            $0.events.append(event)
            $0.writes.append("event \($0.events.count) \(event.reason)")
        }
    }
}

final class FakeNotifier: Notifier {
    let sent = Mutex<[Reminder.Kind]>([])
    func notify(_ reminder: Reminder, queue: BatchQueue) async { sent.withLock { $0.append(reminder.kind) } }
}
