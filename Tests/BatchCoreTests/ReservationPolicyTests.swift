import Testing
@testable import BatchCore

@Suite struct ReservationPolicyTests {
    let policy = ReservationPolicy(policy: .defaults)
    static let now = KubeTime(secondsSinceEpoch: 1_800_000_000)   // 2027-01-15 08:00 UTC

    static func queue(held: Reservation? = nil, maxReplicas: Int? = 20) -> BatchQueue {
        BatchQueue(metadata: ObjectMeta(name: "batch1", namespace: "court-listener"),
                   spec: BatchQueueSpec(queue: "batch1", deployment: "celery-batch1", maxReplicas: maxReplicas, reservation: held))
    }

    static func alice(expiresIn: Int64 = 3 * 86_400, replicas: Int = 4, band: String? = nil) -> Reservation {
        Reservation(holder: "alice", reason: "rehash passwords", claimedAt: KubeTime(secondsSinceEpoch: now.secondsSinceEpoch - 3_600),
                    expiresAt: KubeTime(secondsSinceEpoch: now.secondsSinceEpoch + expiresIn), replicas: replicas, approvedBand: band)
    }

    @Test func aFreeQueueIsClaimedWithTheDefaults() throws {
        let outcome = try policy.claim(Self.queue(), by: "bob", request: .init(), now: Self.now)
        #expect(outcome == .claimed(Reservation(holder: "bob", claimedAt: Self.now, expiresAt: Self.now.adding(.days(1)), replicas: 5)))
    }

    @Test func aClaimTakesEveryFlag() throws {
        let outcome = try policy.claim(Self.queue(), by: "bob", request: .init(duration: .days(3), replicas: 12, reason: "reindex", approvedBand: "big"), now: Self.now)
        #expect(outcome == .claimed(Reservation(holder: "bob", reason: "reindex", claimedAt: Self.now, expiresAt: Self.now.adding(.days(3)), replicas: 12, approvedBand: "big")))
    }

    @Test func anExpiredClaimIsFreeToTake() throws {
        let outcome = try policy.claim(Self.queue(held: Self.alice(expiresIn: -1)), by: "bob", request: .init(), now: Self.now)
        guard case let .claimed(r) = outcome else { Issue.record("expected a new claim"); return }
        #expect(r.holder == "bob")
    }

    @Test func yourOwnClaimIsUpdatedKeepingWhatIsNotGiven() throws {
        let outcome = try policy.claim(Self.queue(held: Self.alice()), by: "alice", request: .init(replicas: 2), now: Self.now)
        var expected = Self.alice()
        expected.replicas = 2
        #expect(outcome == .updated(expected))
        let longer = try policy.claim(Self.queue(held: Self.alice()), by: "alice", request: .init(duration: .days(5)), now: Self.now)
        #expect(longer == .updated({ var r = Self.alice(); r.expiresAt = Self.now.adding(.days(5)); return r }()))
    }

    @Test func someoneElsesClaimIsAConflictNamingTheHolder() {
        #expect(throws: ReservationRefusal(.conflict, "batch1 is held by alice until 2027-01-18 08:00 UTC (3d) for \"rehash passwords\". Run 'batchctl claim --any' to take a free queue, or ask alice to release it.")) {
            try policy.claim(Self.queue(held: Self.alice()), by: "bob", request: .init(), now: Self.now)
        }
    }

    @Test(arguments: [
        (ReservationPolicy.ClaimRequest(duration: .days(15)), "--for 15d is longer than the longest reservation, 2w (BatchQueuePolicy default, spec.reservations.maxDuration); ask for 2w or less and extend later with 'batchctl extend'"),
        (.init(duration: .zero), "--for 0s is too short; give a duration such as --for 3d"),
        (.init(replicas: 12), "--replicas 12 is in the big band (11-20), which needs approval: check the database and the services your tasks use can take it, then add --approve-band big"),
        (.init(replicas: 12, approvedBand: "medium"), "--replicas 12 is in the big band (11-20), which needs approval: check the database and the services your tasks use can take it, then add --approve-band big"),
        (.init(replicas: 21, approvedBand: "big"), "--replicas 21 is above batch1's maxReplicas (20); ask for 20 or fewer, or ask an admin (group batchctl:admins) to raise spec.maxReplicas"),
        (.init(replicas: 0), "--replicas 0 must be at least 1; to stop the workers, run 'batchctl release batch1'"),
        (.init(replicas: 3, approvedBand: "huge"), "--approve-band huge is not a band; the bands are small (1-5), medium (6-10), big (11-20)"),
        (.init(reason: String(repeating: "x", count: 1025)), "--reason is longer than 1024 bytes; keep it to a line"),
    ])
    func badClaimsAreRefusedAsBadInput(_ request: ReservationPolicy.ClaimRequest, _ message: String) {
        #expect(throws: ReservationRefusal(.badInput, message)) {
            try policy.claim(Self.queue(), by: "bob", request: request, now: Self.now)
        }
    }

    @Test func aboveTheLargestBandNeedsTheAdminsMaxReplicasAndApproval() throws {
        let q = Self.queue(maxReplicas: 30)
        guard case let .claimed(r) = try policy.claim(q, by: "bob", request: .init(replicas: 25, approvedBand: "big"), now: Self.now) else {
            Issue.record("expected a claim"); return
        }
        #expect(r.replicas == 25)
        #expect(throws: ReservationRefusal.self) { try policy.claim(q, by: "bob", request: .init(replicas: 25), now: Self.now) }
    }

    @Test func extendAddsToTheCurrentExpiryWithinTheMaximum() throws {
        let r = try policy.extend(Self.queue(held: Self.alice()), by: "alice", duration: .days(2), now: Self.now)
        #expect(r.expiresAt == Self.now.adding(.days(5)))
        // A reservation lasts at most maxDuration from its claimedAt (2027-01-15 07:00 UTC here), as the admission policy checks.
        #expect(throws: ReservationRefusal(.badInput, "extending by 12d would hold batch1 until 2027-01-30 08:00 UTC; a reservation lasts at most 2w from when it was claimed (BatchQueuePolicy default, spec.reservations.maxDuration), so this one can run until 2027-01-29 07:00 UTC: extend by at most 10d23h")) {
            try policy.extend(Self.queue(held: Self.alice()), by: "alice", duration: .days(12), now: Self.now)
        }
        let longest = try policy.extend(Self.queue(held: Self.alice()), by: "alice", duration: .hours(10 * 24 + 23), now: Self.now)
        #expect(longest.expiresAt == longest.claimedAt.adding(.days(14)))
    }

    @Test func updatingYourOwnClaimStaysWithinMaxDurationFromItsClaimedAt() throws {
        let held = Self.queue(held: Self.alice())
        #expect(throws: ReservationRefusal.self) { try policy.claim(held, by: "alice", request: .init(duration: .days(14)), now: Self.now) }
        let outcome = try policy.claim(held, by: "alice", request: .init(duration: .hours(13 * 24 + 23)), now: Self.now)
        guard case let .updated(r) = outcome else { Issue.record("expected an update"); return }
        #expect(r.claimedAt == Self.alice().claimedAt)
        #expect(r.expiresAt == r.claimedAt.adding(.days(14)))
    }

    @Test func theClusterPolicyDecidesTheLimitsAndTheirMessages() throws {
        var rules = QueuePolicy.defaults
        rules.reservations = ReservationLimits(defaultDuration: .hours(1), maxDuration: .hours(2))
        #expect(throws: ReservationRefusal(.badInput, "--for 3h is longer than the longest reservation, 2h (BatchQueuePolicy default, spec.reservations.maxDuration); ask for 2h or less and extend later with 'batchctl extend'")) {
            try ReservationPolicy(policy: rules).claim(Self.queue(), by: "bob", request: .init(duration: .hours(3)), now: Self.now)
        }
        #expect(try ReservationPolicy(policy: rules).claim(Self.queue(), by: "bob", request: .init(), now: Self.now)
                == .claimed(Reservation(holder: "bob", claimedAt: Self.now, expiresAt: Self.now.adding(.hours(1)), replicas: 5)))
    }

    @Test func onlyTheHolderExtendsOrScales() {
        #expect(throws: ReservationRefusal(.conflict, "batch1 is held by alice until 2027-01-18 08:00 UTC (3d) for \"rehash passwords\". Only alice can extend it.")) {
            try policy.extend(Self.queue(held: Self.alice()), by: "bob", duration: .days(1), now: Self.now)
        }
        #expect(throws: ReservationRefusal(.badInput, "batch1 is not reserved, so there is nothing to scale; run 'batchctl claim batch1' first")) {
            try policy.scale(Self.queue(), by: "bob", replicas: 3, approvedBand: nil, now: Self.now)
        }
    }

    @Test func scaleChecksTheBandsAndKeepsAnEarlierApproval() throws {
        let r = try policy.scale(Self.queue(held: Self.alice(band: "big")), by: "alice", replicas: 15, approvedBand: nil, now: Self.now)
        #expect(r.replicas == 15)
        #expect(r.approvedBand == "big")
        #expect(throws: ReservationRefusal.self) {
            try policy.scale(Self.queue(held: Self.alice()), by: "alice", replicas: 15, approvedBand: nil, now: Self.now)
        }
    }

    @Test func releaseIsForTheHolderOrAForcedAdmin() throws {
        #expect(try policy.release(Self.queue(held: Self.alice()), by: "alice", force: false, now: Self.now))
        #expect(try !policy.release(Self.queue(), by: "alice", force: false, now: Self.now))
        #expect(try policy.release(Self.queue(held: Self.alice()), by: "carol", force: true, now: Self.now))
        #expect(throws: ReservationRefusal(.conflict, "batch1 is held by alice until 2027-01-18 08:00 UTC (3d) for \"rehash passwords\". Ask alice to release it, or, if you are an admin (group batchctl:admins), run 'batchctl release batch1 --force'.")) {
            try policy.release(Self.queue(held: Self.alice()), by: "bob", force: false, now: Self.now)
        }
    }
}
