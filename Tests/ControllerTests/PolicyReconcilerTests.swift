import BatchCore
import Controller
import Testing

/// The cluster's policy in the reconciler: the queue set follows the BatchQueues, reservations outside the
/// policy are clamped in one write with a Warning Event, and a missing policy is said in a condition.
@Suite struct PolicyReconcilerTests {
    let clock = TestClock()
    let redis = FakeObserver()
    let cluster: FakeCluster

    init() {
        cluster = FakeCluster(queues: ["batch0", "batch1"])
        redis.set(["batch0": (0, 0), "batch1": (3, 0), "batch4": (9, 0)])
    }

    func reconciler() -> Reconciler {
        let clock = self.clock
        return Reconciler(config: .defaults, settings: .init(pollInterval: .seconds(1)), observer: redis, cluster: cluster, clock: { clock.now })
    }

    static var twoHours: QueuePolicy {
        var p = QueuePolicy.defaults
        p.reservations = ReservationLimits(defaultDuration: .hours(1), maxDuration: .hours(2))
        return p
    }

    func hold(_ name: String, claimedIn: Int64 = 0, for seconds: Int64, replicas: Int = 4) {
        let now = clock.now.secondsSinceEpoch
        cluster.update(name) {
            $0.spec.reservation = Reservation(holder: "alice", claimedAt: KubeTime(secondsSinceEpoch: now + claimedIn),
                                              expiresAt: KubeTime(secondsSinceEpoch: now + claimedIn + seconds), replicas: replicas)
        }
    }

    @Test func theProbedQueuesAreTheBatchQueuesSeenThisPass() async {
        let r = reconciler()
        _ = await r.reconcileOnce()
        #expect(redis.observed == ["batch0", "batch1"])
        #expect(cluster.queue("batch1").status?.depth == 3)
        cluster.state.withLock { s in
            s.queues.append(BatchQueue(metadata: ObjectMeta(name: "batch4", namespace: "court-listener", generation: 1),
                                       spec: BatchQueueSpec(queue: "batch4", deployment: "celery-batch4")))
            s.deployments["celery-batch4"] = DeploymentState(name: "celery-batch4", replicas: 0, readyReplicas: 0, selector: ["app": "celery-batch4"])
        }
        _ = await r.reconcileOnce()
        #expect(redis.observed == ["batch0", "batch1", "batch4"])
        #expect(cluster.queue("batch4").status?.depth == 9)
        cluster.state.withLock { $0.queues.removeAll { $0.metadata.name == "batch0" } }
        _ = await r.reconcileOnce()
        #expect(redis.observed == ["batch1", "batch4"])
    }

    @Test func aReservationOutsideThePolicyIsClampedInOneWriteWithAWarning() async throws {
        cluster.setPolicy(.found(Self.twoHours))
        hold("batch1", for: 365 * 86_400)
        let report = await reconciler().reconcileOnce()
        #expect(report.failures.isEmpty)
        let r = try #require(cluster.queue("batch1").spec.reservation)
        #expect(r.expiresAt.secondsSinceEpoch == r.claimedAt.secondsSinceEpoch + 7200)
        #expect(cluster.writes.filter { $0.hasPrefix("clamp") } == ["clamp batch1"])
        let event = try #require(cluster.events.first { $0.reason == "ReservationClamped" })
        #expect(event.isWarning)
        #expect(event.note.contains("more than maxDuration (2h) after claimedAt"))
        _ = await reconciler().reconcileOnce()
        #expect(cluster.writes.filter { $0.hasPrefix("clamp") }.count == 1)   // inside now: nothing more
    }

    @Test func aFutureClaimedAtIsClampedToThePassTime() async throws {
        cluster.setPolicy(.found(Self.twoHours))
        hold("batch1", claimedIn: 86_400, for: 3600)
        _ = await reconciler().reconcileOnce()
        let r = try #require(cluster.queue("batch1").spec.reservation)
        #expect(r.claimedAt == clock.now)
        #expect(r.expiresAt.secondsSinceEpoch == clock.now.secondsSinceEpoch + 7200)
    }

    @Test func theClusterPolicyDecidesAndItsAbsenceIsACondition() async throws {
        cluster.setPolicy(.found(Self.twoHours))
        _ = await reconciler().reconcileOnce()
        #expect(cluster.queue("batch0").status?.conditions?.first { $0.type == ConditionType.policyDefaults }?.status == "False")
        cluster.setPolicy(.missing)
        _ = await reconciler().reconcileOnce()
        let missing = try #require(cluster.queue("batch0").status?.conditions?.first { $0.type == ConditionType.policyDefaults })
        #expect(missing.status == "True")
        #expect(missing.reason == "NoBatchQueuePolicy")
        cluster.setPolicy(.invalid("spec.idleAfter: \"1d\" uses d or w"))
        _ = await reconciler().reconcileOnce()
        let invalid = try #require(cluster.queue("batch0").status?.conditions?.first { $0.type == ConditionType.policyDefaults })
        #expect(invalid.reason == "InvalidBatchQueuePolicy")
        #expect(invalid.message.contains("spec.idleAfter"))
    }
}
