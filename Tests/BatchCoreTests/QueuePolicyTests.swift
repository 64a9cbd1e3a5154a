import Foundation
import Testing
import YAML
@testable import BatchCore

@Suite struct QueuePolicyTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The object a schema's `default`s make of an empty spec, as the API server fills them in.
    static func defaults(of schema: Node) -> Node? {
        if let d = schema["default"], schema["type"]?.scalarText != "object" { return d }
        guard schema["type"]?.scalarText == "object", let properties = schema["properties"], case let .mapping(m) = properties else {
            return schema["default"]
        }
        let pairs: [(String, Node)] = m.compactMap { entry in
            guard let key = entry.key.scalarText, let value = defaults(of: entry.value) else { return nil }
            return (key, value)
        }
        return .mapping(pairs)
    }

    @Test func theCRDSchemaDefaultsEqualTheEmbeddedDefaults() throws {
        let text = try String(contentsOfFile: Self.root.appendingPathComponent("deploy/crds/crd-batchqueuepolicies.yaml").path, encoding: .utf8)
        let crd = try #require(try YAMLComposer.compose(text))
        guard case let .sequence(versions)? = crd["spec"]?["versions"], let schema = versions.first?["schema"]?["openAPIV3Schema"]?["properties"]?["spec"] else {
            Issue.record("no spec schema in the CRD")
            return
        }
        let spec = try #require(Self.defaults(of: schema))
        #expect(try ConfigLoader.loadPolicy(spec: spec, source: "schema defaults") == QueuePolicy.defaults)
    }

    @Test func theShippedDefaultObjectKeepsTheDefaultsAndOrdersTheFourQueues() throws {
        let text = try String(contentsOfFile: Self.root.appendingPathComponent("deploy/base/batchqueuepolicy.yaml").path, encoding: .utf8)
        let object = try #require(try YAMLComposer.compose(text))
        var expected = QueuePolicy.defaults
        expected.claimOrder = ["batch0", "batch1", "batch2", "batch3"]
        #expect(try ConfigLoader.loadPolicy(spec: object["spec"], source: "batchqueuepolicy.yaml") == expected)
    }

    @Test func anObjectFromTheAPIServerReadsAsAPolicy() throws {
        let json = #"{"apiVersion":"batchctl.dev/v1alpha1","kind":"BatchQueuePolicy","metadata":{"name":"default","namespace":"court-listener"},"spec":{"reservations":{"defaultDuration":"1h","maxDuration":"2h"},"totalReplicaBudget":12,"bands":[{"name":"small","min":1,"max":5,"requiresApproval":false},{"name":"big","max":12,"requiresApproval":true}],"claimOrder":["batch2"]}}"#
        let object = try JSONDecoder().decode(BatchQueuePolicy.self, from: Data(json.utf8))
        let policy = try object.policy()
        #expect(policy.reservations == ReservationLimits(defaultDuration: .hours(1), maxDuration: .hours(2)))
        #expect(policy.totalReplicaBudget == 12)
        #expect(policy.bands.map(\.name) == ["small", "big"])
        #expect(policy.idleAfter == QueuePolicy.defaults.idleAfter)
        #expect(policy.claimOrdered(["batch0", "batch3", "batch2", "batch1"]) == ["batch2", "batch0", "batch1", "batch3"])
        #expect(try BatchQueuePolicy(metadata: ObjectMeta(name: "default"), spec: nil).policy() == QueuePolicy.defaults)
    }

    @Test func anInvalidObjectNamesItselfAndEveryProblem() throws {
        let object = BatchQueuePolicy(metadata: ObjectMeta(name: "default", namespace: "ns"),
                                      spec: .object(["idleAfter": .string("1d"), "totalReplicaBudget": .int(0)]))
        #expect(throws: ConfigError.self) { try object.policy() }
        do {
            _ = try object.policy()
        } catch {
            #expect(error.source == "BatchQueuePolicy ns/default")
            #expect(error.problems.map(\.path) == ["spec.idleAfter", "spec.totalReplicaBudget"])
        }
    }

    // MARK: Clamping (the controller's defence in depth)

    static let now = KubeTime(secondsSinceEpoch: 1_800_000_000)

    static func queue(claimedAt: Int64 = 0, expiresIn: Int64 = 3600, replicas: Int = 4, maxReplicas: Int? = 20) -> BatchQueue {
        BatchQueue(metadata: ObjectMeta(name: "batch2"), spec: BatchQueueSpec(deployment: "celery-batch2", maxReplicas: maxReplicas, reservation: Reservation(
            holder: "alice", claimedAt: KubeTime(secondsSinceEpoch: now.secondsSinceEpoch + claimedAt),
            expiresAt: KubeTime(secondsSinceEpoch: now.secondsSinceEpoch + claimedAt + expiresIn), replicas: replicas)))
    }

    static var twoHours: QueuePolicy {
        var p = QueuePolicy.defaults
        p.reservations = ReservationLimits(defaultDuration: .hours(1), maxDuration: .hours(2))
        return p
    }

    @Test(arguments: [
        // (claimedAt offset, expiresIn, replicas, maxReplicas, expected claimedAt offset, expiresAt offset, replicas; nil: inside)
        (Int64(-600), Int64(7200), 4, Optional(20), Optional<(Int64, Int64, Int)>.none),                  // exactly maxDuration
        (-600, 365 * 86400, 4, 20, (-600, 6600, 4)),                                                       // a one-year expiry
        (3600, 3600, 4, 20, (0, 7200, 4)),                                                                 // claimedAt an hour ahead
        (3600, 365 * 86400, 4, 20, (0, 7200, 4)),                                                          // both at once
        (30, 3600, 4, 20, nil),                                                                            // within the clock skew
        (-600, 3600, 25, 20, (-600, 3000, 20)),                                                            // above maxReplicas
        (-600, 3600, 25, nil, (-600, 3000, 20)),                                                           // above the largest band
        (-7200, 3600, 4, 20, nil),                                                                         // expired: cleared, not clamped
    ] as [(Int64, Int64, Int, Int?, (Int64, Int64, Int)?)])
    func aReservationOutsideThePolicyIsClampedInOneChange(_ claimed: Int64, _ expiresIn: Int64, _ replicas: Int, _ maxReplicas: Int?,
                                                          _ expected: (Int64, Int64, Int)?) {
        let q = Self.queue(claimedAt: claimed, expiresIn: expiresIn, replicas: replicas, maxReplicas: maxReplicas)
        let clamp = Self.twoHours.clamp(q, now: Self.now)
        guard let expected else {
            #expect(clamp == nil)
            return
        }
        let r = clamp?.reservation
        #expect(r?.claimedAt.secondsSinceEpoch == Self.now.secondsSinceEpoch + expected.0)
        #expect(r?.expiresAt.secondsSinceEpoch == Self.now.secondsSinceEpoch + expected.1)
        #expect(r?.replicas == expected.2)
        #expect(r?.holder == "alice")
        #expect(clamp.map { Self.twoHours.clamp(BatchQueue(metadata: q.metadata, spec: BatchQueueSpec(deployment: q.spec.deployment, maxReplicas: q.spec.maxReplicas, reservation: $0.reservation)), now: Self.now) } == .some(nil))
    }

    @Test func theNoteNamesEveryRuleAndThePolicy() throws {
        let clamp = try #require(Self.twoHours.clamp(Self.queue(claimedAt: 3600, expiresIn: 365 * 86400, replicas: 30), now: Self.now))
        #expect(clamp.rules.count == 3)
        #expect(clamp.note.contains("BatchQueuePolicy"))
        #expect(clamp.note.contains("claimedAt 2027-01-15 09:00 UTC was in the future") || clamp.note.contains("was in the future"))
        #expect(clamp.note.contains("more than maxDuration (2h) after claimedAt"))
        #expect(clamp.note.contains("replicas 30 was above the queue's cap (20); set to 20"))
    }
}
