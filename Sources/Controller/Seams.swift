import BatchCore

/// Reads the Celery queues (the CeleryRedis probe and heartbeat listener behind it).
public protocol QueueObserver: Sendable {
    /// One observation of `queues` (the `spec.queue` of every BatchQueue seen, so the set follows the
    /// cluster); throws when Redis cannot be read at all.
    func observe(queues: [String]) async throws -> RedisSnapshot
}

/// The Kubernetes side: reads and the few writes the controller makes.
public protocol ClusterClient: Sendable {
    /// BatchQueues, worker Deployments and their pods, as currently known.
    func snapshot() async throws -> ClusterSnapshot
    /// Sets a Deployment's replicas through its `/scale` subresource.
    func scale(deployment: String, to replicas: Int) async throws
    /// Writes `status` through the BatchQueue's `/status` subresource; returns the stored object.
    func updateStatus(of queue: BatchQueue, to status: BatchQueueStatus) async throws -> BatchQueue
    /// Clears an expired `spec.reservation` (nil) or writes it clamped to the policy, with the resourceVersion
    /// read (a conflict means re-read); returns the stored object.
    func writeReservation(of queue: BatchQueue, to reservation: Reservation?) async throws -> BatchQueue
    /// Sets (or removes, with nil) a pod's `controller.kubernetes.io/pod-deletion-cost`.
    func setDeletionCost(pod: String, cost: Int?) async throws
    /// Records an Event on the BatchQueue.
    func record(_ event: ControllerEvent) async throws
}

/// Sends reminders beyond Events (a webhook). Must return quickly: slow delivery happens elsewhere.
public protocol Notifier: Sendable {
    func notify(_ reminder: Reminder, queue: BatchQueue) async
}
