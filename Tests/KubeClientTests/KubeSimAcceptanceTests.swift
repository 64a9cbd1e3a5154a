import BatchCore
import BatchTesting
import Foundation
import Testing
@testable import KubeClient

/// Issue 4 acceptance, against KubeSim over HTTPS.
@Suite(.serialized) struct KubeSimAcceptanceTests {
    // MARK: 1. authentication modes

    @Test func bearerTokensFromKubeSimKubeconfig() async throws {
        let sim = try KubeSimServer.start()
        for user in ["admin", "alice", "bob"] {
            let c = try Sim.client(sim, context: user)
            #expect(c.namespace == Sim.namespace)
            #expect(try await c.whoAmI().username == user)
        }
        let admin = try await Sim.client(sim).whoAmI()
        #expect(admin.groups?.contains("batchctl:admins") == true)
        let log = try sim.requests().filter { $0.path.hasSuffix("/selfsubjectreviews") }
        #expect(log.map(\.user).suffix(4) == ["admin", "alice", "bob", "admin"])
    }

    @Test func clientCertificate() async throws {
        let sim = try KubeSimServer.start()
        let f = try KubeFixture()
        let (cert, key) = sim.clientCertificate(for: "bob")
        let p = try f.write("config", kubeconfigYAML(
            cluster: "server: \(sim.url)\n    certificate-authority: \(sim.caPath)",
            user: "client-certificate: \(cert)\n    client-key: \(key)"))
        let c = try KubeClient.load(f.options(kubeconfig: p))
        #expect(c.transport.config.credentials.description == "client certificate")
        #expect(try await c.whoAmI().username == "bob")
        // The same certificate inline as *-data.
        let data = { (path: String) throws -> String in try Data(contentsOf: URL(fileURLWithPath: path)).base64EncodedString() }
        let q = try f.write("config-data", kubeconfigYAML(
            cluster: "server: \(sim.url)\n    certificate-authority-data: \(try data(sim.caPath))",
            user: "client-certificate-data: \(try data(cert))\n    client-key-data: \(try data(key))"))
        #expect(try await KubeClient.load(f.options(kubeconfig: q)).whoAmI().username == "bob")
    }

    @Test func tokenFileRotatedDuringTheTest() async throws {
        let sim = try KubeSimServer.start()
        let f = try KubeFixture()
        let tokenPath = try f.write("token", sim.token(for: "alice"))
        let p = try f.write("config", kubeconfigYAML(
            cluster: "server: \(sim.url)\n    certificate-authority: \(sim.caPath)", user: "tokenFile: token"))
        var options = f.options(kubeconfig: p)
        options.tokenFileRefreshPeriod = .milliseconds(300)
        let c = try KubeClient.load(options)
        #expect(try await c.whoAmI().username == "alice")
        try sim.token(for: "bob").write(toFile: tokenPath, atomically: true, encoding: .utf8)
        #expect(await Wait.until(timeout: .seconds(10)) { (try? await c.whoAmI().username) == "bob" }, "re-read after the refresh period")

        // With the default one-minute cache, a rotation is picked up at the first 401.
        let slow = try KubeClient.load(f.options(kubeconfig: p))
        try "revoked-token".write(toFile: tokenPath, atomically: true, encoding: .utf8)
        _ = try slow.transport.config.credentials.credential()          // caches the revoked token
        try sim.token(for: "alice").write(toFile: tokenPath, atomically: true, encoding: .utf8)
        #expect(try await slow.whoAmI().username == "alice", "a 401 re-reads the file once")
        let statuses = try sim.requests().filter { $0.path.hasSuffix("/selfsubjectreviews") }.map(\.status)
        #expect(statuses.suffix(2) == [401, 201])
    }

    @Test func execPlugin() async throws {
        let sim = try KubeSimServer.start()
        let f = try KubeFixture()
        try f.write("get-token.sh", """
            #!/bin/sh
            echo run >> "$(dirname "$0")/runs"
            printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"2099-01-01T00:00:00Z"}}' "\(sim.token(for: "alice"))"
            """, mode: 0o755)
        let p = try f.write("config", kubeconfigYAML(
            cluster: "server: \(sim.url)\n    certificate-authority: \(sim.caPath)",
            user: "exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ./get-token.sh\n      interactiveMode: Never"))
        let c = try KubeClient.load(f.options(kubeconfig: p))
        #expect(try await c.whoAmI().username == "alice")
        #expect(try await c.whoAmI().username == "alice")
        let runs = try String(contentsOfFile: f.path + "/runs", encoding: .utf8)
        #expect(runs == "run\n", "the credential is cached until its expirationTimestamp")
    }

    @Test func proxyURLTunnelsThroughAnHTTPProxy() async throws {
        let sim = try KubeSimServer.start()
        let f = try KubeFixture()
        let port = try FreePort.next()
        let proxy = try ChildProcess(name: "proxy", executable: "/usr/bin/python3",
                                     arguments: ["\(ProjectPaths.fixtures)/connect_proxy.py", String(port)], logDirectory: f.path)
        defer { proxy.stop(grace: .seconds(2)) }
        #expect(Wait.until(timeout: .seconds(10)) { FreePort.isListening(port) })
        let p = try f.write("config", kubeconfigYAML(
            cluster: "server: \(sim.url)\n    certificate-authority: \(sim.caPath)\n    proxy-url: http://127.0.0.1:\(port)",
            user: "token: \(sim.token(for: "alice"))"))
        let c = try KubeClient.load(f.options(kubeconfig: p))
        #expect(try await c.whoAmI().username == "alice")
        #expect(Wait.until(timeout: .seconds(5)) { proxy.stdout.contains("CONNECT 127.0.0.1:\(sim.port)") })
    }

    /// `tls-server-name`: the certificate is checked against that name while connecting to the server's address.
    @Test func tlsServerName() async throws {
        let sim = try KubeSimServer.start()
        let f = try KubeFixture()
        func client(_ name: String) throws -> KubeClient {
            let p = try f.write("config-\(name)", kubeconfigYAML(
                cluster: "server: \(sim.url)\n    certificate-authority: \(sim.caPath)\n    tls-server-name: \(name)",
                user: "token: \(sim.token(for: "alice"))"))
            return try KubeClient.load(f.options(kubeconfig: p), retryPolicy: .none)
        }
        #expect(try await client("kubernetes").whoAmI().username == "alice")
        let error = await #expect(throws: KubeError.self) { try await client("wrong.example").whoAmI() }
        #expect(error?.description.contains("certificate") == true, "\(String(describing: error))")
    }

    @Test func inClusterServiceAccount() async throws {
        let f = try KubeFixture()
        let users = try f.write("users.yaml", """
            - name: system:serviceaccount:court-listener:batchctl-controller
              groups: [system:serviceaccounts, system:serviceaccounts:court-listener]
              token: sa-token-for-tests-0123456789
            """)
        let sim = try KubeSimServer.start(extraArguments: ["--users", users])
        try f.write("serviceaccount/token", "sa-token-for-tests-0123456789\n")
        try f.write("serviceaccount/namespace", Sim.namespace)
        try FileManager.default.copyItem(atPath: sim.caPath, toPath: f.path + "/serviceaccount/ca.crt")
        var options = f.options(env: ["KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": String(sim.port)])
        options.tokenFileRefreshPeriod = .milliseconds(300)
        let c = try KubeClient.load(options)
        #expect(c.transport.config.source.hasPrefix("in-cluster"))
        #expect(c.namespace == Sim.namespace)
        #expect(try await c.whoAmI().username == "system:serviceaccount:court-listener:batchctl-controller")
        // kubelet rotates the projected token: the next read after the period uses the new one.
        try f.write("serviceaccount/token", sim.token(for: "bob"))
        #expect(await Wait.until(timeout: .seconds(10)) { (try? await c.whoAmI().username) == "bob" })
    }

    // MARK: 3. conflicts, 429, connection reuse

    @Test func staleResourceVersionIsATypedConflict() async throws {
        let sim = try KubeSimServer.start()
        let admin = try Sim.client(sim)
        try await Sim.installCRD(admin)
        let alice = try Sim.client(sim, context: "alice", retry: Sim.fast)
        let bob = try Sim.client(sim, context: "bob", retry: Sim.fast)
        _ = try await admin.createBatchQueue(Sim.batchQueue("batch1"))
        let seenByAlice = try await alice.batchQueue("batch1")
        let seenByBob = try await bob.batchQueue("batch1")
        let now = KubeTime(secondsSinceEpoch: 1_795_255_200)
        var claim = seenByAlice
        claim.spec.reservation = Reservation(holder: "alice", reason: "rehash", claimedAt: now, expiresAt: now.adding(.init(milliseconds: 86_400_000)), replicas: 5)
        let claimed = try await alice.updateBatchQueue(claim, from: seenByAlice)
        #expect(claimed.spec.reservation?.holder == "alice")
        #expect(claimed.metadata.resourceVersion != seenByAlice.metadata.resourceVersion)

        var rival = seenByBob
        rival.spec.reservation = Reservation(holder: "bob", claimedAt: now, expiresAt: now, replicas: 3)
        let error = await #expect(throws: KubeError.self) { try await bob.updateBatchQueue(rival, from: seenByBob) }
        #expect(error?.isConflict == true)
        #expect(error?.kind == .conflict)
        #expect(error?.status?.reason == "Conflict")
        #expect(try await admin.batchQueue("batch1").spec.reservation?.holder == "alice", "the stale write changed nothing")

        // Scale with a stale resourceVersion.
        try await Sim.createDeployment(admin, "celery-batch1")
        let scale = try await admin.scale(ofDeployment: "celery-batch1")
        _ = try await admin.setScale(ofDeployment: "celery-batch1", replicas: 2, resourceVersion: scale.metadata.resourceVersion)
        let stale = await #expect(throws: KubeError.self) {
            try await admin.setScale(ofDeployment: "celery-batch1", replicas: 4, resourceVersion: scale.metadata.resourceVersion)
        }
        #expect(stale?.isConflict == true)
        #expect(try await admin.scale(ofDeployment: "celery-batch1").spec.replicas == 2)
    }

    @Test func tooManyRequestsWithRetryAfterIsRetriedAfterASecond() async throws {
        let sim = try KubeSimServer.start()
        let admin = try Sim.client(sim)
        try await Sim.createDeployment(admin, "celery-batch0")
        try sim.setFaults("get /apis/apps/v1/namespaces/*/deployments/celery-batch0 status=429,retryAfter=1,count=1")
        let start = ContinuousClock.now
        let d = try await admin.deployment("celery-batch0")
        let elapsed = ContinuousClock.now - start
        #expect(d.metadata.name == "celery-batch0")
        #expect(elapsed >= .milliseconds(900), "took \(elapsed)")
        let gets = try sim.requests().filter { $0.method == "GET" && $0.path.hasSuffix("/deployments/celery-batch0") }
        #expect(gets.map(\.status) == [429, 200])
        print("429 + Retry-After: 1 → answered after \(elapsed)")
    }

    @Test func hundredSequentialRequestsUseOneConnection() async throws {
        let sim = try KubeSimServer.start()
        try await Sim.createDeployment(try Sim.client(sim), "celery-batch2")
        let admin = try Sim.client(sim)      // a fresh client: its first request opens the connection
        let before = try Sim.stats(sim).connections ?? -1
        var opened = 0
        var versions = Set<String>()
        for _ in 0..<100 {
            let r = try await admin.transport.send(KubeRequest(method: .get, path: Deployment.resourceType.path(namespace: Sim.namespace, name: "celery-batch2")))
            if r.openedConnection { opened += 1 }
            versions.insert(r.httpVersion)
        }
        let after = try Sim.stats(sim).connections ?? -1
        #expect(opened == 1)
        // KubeSim counts accepted connections: the client's one plus the second stats request's own.
        #expect(after - before == 2, "before \(before), after \(after)")
        print("100 sequential GETs: \(opened) connection(s) opened by the client; KubeSim accepted \(after - before - 1); HTTP \(versions.sorted())")
    }

    // MARK: 4. watch

    @Test func watchSurvivesDroppedStreamsAndForced410() async throws {
        let sim = try KubeSimServer.start()
        let admin = try Sim.client(sim)
        try await Sim.installCRD(admin)
        // Short watches (clean ends every 2 s) and a slow first backoff, so the test controls the gaps.
        let options = WatchOptions(timeoutSeconds: 2...2, backoff: RetryPolicy(initialBackoff: .milliseconds(1500), maxBackoff: .seconds(3)))
        let (stream, statistics) = admin.watchWithStatistics(BatchQueue.self, options: options)
        let log = EventLog<BatchQueue>()
        let consumer = Task {
            do {
                for try await e in stream { await log.append(e) }
                await log.finish(nil)
            } catch {
                await log.finish(error)
            }
        }
        defer { consumer.cancel() }
        var written: [String] = []     // resourceVersions our writes produced
        func write(_ name: String, replicas: Int) async throws {
            let current: BatchQueue
            do {
                current = try await admin.batchQueue(name)
            } catch let e as KubeError where e.isNotFound {
                let created = try await admin.createBatchQueue(Sim.batchQueue(name))
                written.append(created.metadata.resourceVersion ?? "")
                return
            }
            var next = current
            next.spec.maxReplicas = replicas
            let updated = try await admin.updateBatchQueue(next, from: current)
            written.append(updated.metadata.resourceVersion ?? "")
        }
        func seen(_ rv: String) async -> Bool {
            await Wait.until(timeout: .seconds(20), interval: .milliseconds(20)) { await log.sawResourceVersion(rv) }
        }

        #expect(await Wait.until(timeout: .seconds(10)) { await log.syncCount == 1 })
        // Live events, across clean ends of the stream.
        for i in 0..<3 {
            try await write("batch\(i)", replicas: 5)
            #expect(await seen(written.last!))
        }
        // Across a clean end of the stream: KubeSim ends each watch after about 2 s (no event marks the end).
        try await Task.sleep(for: .milliseconds(2500))
        try await write("batch0", replicas: 6)
        #expect(await seen(written.last!))

        // KubeSim closes every stream after one event.
        try sim.setFaults("watch /apis/batchctl.dev/** dropWatchAfterEvents=1")
        // The current watch ends (after about 2 s; no event marks it) and the new ones carry the fault.
        try await Task.sleep(for: .milliseconds(2500))
        for i in 0..<3 {
            try await write("batch\(i)", replicas: 7 + i)
            #expect(await seen(written.last!))
        }

        // Forced 410 as HTTP status on the next watch: relist.
        try sim.setFaults("watch /apis/batchctl.dev/** status=410,count=1")
        try await write("batch1", replicas: 11)
        #expect(await seen(written.last!))
        #expect(await Wait.until(timeout: .seconds(10)) { () async in statistics().expired >= 1 })

        // Forced 410 as an ERROR event: history compacted while the client's resourceVersion is behind.
        try sim.setFaults("")
        let expiredBefore = statistics().expired
        _ = try await admin.createLease(Lease(metadata: ObjectMeta(name: "bump", namespace: Sim.namespace), spec: LeaseSpec(holderIdentity: "x")))
        // Compact at once (same connection), so no new watch can learn the lease's resourceVersion in between.
        let compact = try await admin.transport.send(KubeRequest(method: .post, path: "/kubesim/compact"))
        #expect(compact.status == 200)
        #expect(await Wait.until(timeout: .seconds(10)) { () async in statistics().expired > expiredBefore })
        try await write("batch2", replicas: 12)
        try await write("batch3", replicas: 1)
        #expect(await seen(written.last!))

        // Every write seen exactly once; nothing else; the consumer's view equals the server.
        let changes = await log.changes
        for rv in written {
            #expect(changes.filter { $0.rv == rv }.count == 1, "resourceVersion \(rv) seen \(changes.filter { $0.rv == rv }.count) times")
        }
        #expect(changes.count == written.count, "no extra events: \(changes.map { "\($0.kind) \($0.key)@\($0.rv)" })")
        let server = try await admin.batchQueues()
        let expected = Dictionary(uniqueKeysWithValues: server.items.map { ($0.key, $0.metadata.resourceVersion ?? "") })
        #expect(await log.view == expected)
        let s = statistics()
        #expect(s.lists >= 3, "initial list + two relists: \(s)")
        print("watch statistics: \(s)")
        #expect(await log.finished == nil, "the watch is still running")
    }

    @Test func cancellingAWatchStopsTheTransfer() async throws {
        let sim = try KubeSimServer.start()
        let admin = try Sim.client(sim)
        try await Sim.createDeployment(admin, "celery-batch3")
        let task = Task {
            for try await e in admin.watch(Deployment.self) {
                if case .synced(let all) = e { return all.count }
            }
            return -1
        }
        #expect(try await task.value == 1)
        // The loop returned (ending the iteration): the watch's curl thread must end within about a second.
        let start = ContinuousClock.now
        let stopped = Wait.until(timeout: .seconds(5), interval: .milliseconds(10)) { admin.transport.activeStreams == 0 }
        #expect(stopped)
        print("watch: curl transfer ended \(ContinuousClock.now - start) after the consumer stopped")
        let closed = Wait.until(timeout: .seconds(3)) { (try? Sim.stats(sim))?.watches == 0 }
        print("watch: KubeSim reports the watch closed: \(closed)")
    }

    // MARK: typed calls

    @Test func typedCallsRoundTrip() async throws {
        let sim = try KubeSimServer.start()
        let admin = try Sim.client(sim)
        try await Sim.installCRD(admin)
        try await Sim.createDeployment(admin, "celery-batch1", replicas: 1)

        // Deployments and /scale.
        let list = try await admin.deployments(labelSelector: nil)
        #expect(list.items.map(\.metadata.name) == ["celery-batch1"])
        #expect(list.metadata.resourceVersion?.isEmpty == false)
        let d = try await admin.deployment("celery-batch1")
        #expect(d.spec.selector?.matchLabels == ["app": "celery-batch1"])
        let scaled = try await admin.setScale(ofDeployment: "celery-batch1", replicas: 3, resourceVersion: nil)
        #expect(scaled.spec.replicas == 3)
        #expect(try await admin.deployment("celery-batch1").spec.replicas == 3)

        // BatchQueue create, status, unknown fields kept.
        try await Sim.post(admin, "/apis/batchctl.dev/v1alpha1/namespaces/\(Sim.namespace)/batchqueues", """
            {"apiVersion":"batchctl.dev/v1alpha1","kind":"BatchQueue","metadata":{"name":"batch1"},
             "spec":{"deployment":"celery-batch1","futureField":{"keep":"me"}}}
            """)
        let q = try await admin.batchQueue("batch1")
        var withStatus = q
        withStatus.status = BatchQueueStatus(observedGeneration: q.metadata.generation, phase: .free, depth: 0)
        let afterStatus = try await admin.updateBatchQueueStatus(withStatus, from: q)
        #expect(afterStatus.status?.phase == .free)
        #expect(afterStatus.metadata.generation == q.metadata.generation, "status writes do not bump generation")
        var paused = afterStatus
        paused.spec.paused = true
        _ = try await admin.updateBatchQueue(paused, from: afterStatus)
        let raw = try await admin.transport.send(KubeRequest(method: .get, path: BatchQueue.resourceType.path(namespace: Sim.namespace, name: "batch1")))
        let text = String(decoding: raw.body, as: UTF8.self)
        #expect(text.contains("\"futureField\""), "fields batchctl does not model survive an update")
        #expect(text.contains("\"paused\":true"))
        let patched = try await admin.patch(BatchQueue.self, "batch1", mergePatch: .object(["spec": .object(["maxReplicas": .int(9)])]))
        #expect(patched.spec.maxReplicas == 9)
        #expect(try await admin.batchQueues().items.count == 1)

        // Pods: list and annotate.
        try await Sim.post(admin, "/api/v1/namespaces/\(Sim.namespace)/pods", """
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"celery-batch1-abc","labels":{"app":"celery-batch1"}},
             "spec":{"containers":[{"name":"worker","image":"celery"}]}}
            """)
        let pods = try await admin.pods(labelSelector: "app=celery-batch1")
        #expect(pods.items.contains { $0.metadata.name == "celery-batch1-abc" })
        let annotated = try await admin.annotatePod("celery-batch1-abc", ["controller.kubernetes.io/pod-deletion-cost": "-100"])
        #expect(annotated.metadata.annotations?["controller.kubernetes.io/pod-deletion-cost"] == "-100")

        // Events (events.k8s.io/v1).
        let now = KubeTime(secondsSinceEpoch: 1_795_255_200)
        let event = Event(metadata: ObjectMeta(name: "batch1.17f3a2b4c5d6e7f8", namespace: Sim.namespace), eventTime: MicroTime(now),
                          reportingController: "batchctl.dev/controller", reportingInstance: "controller-0", action: "Scale",
                          reason: "ScaledUp", type: "Normal", note: "scaled celery-batch1 from 1 to 3",
                          regarding: ObjectReference(apiVersion: BatchQueue.apiVersion, kind: "BatchQueue", namespace: Sim.namespace,
                                                     name: "batch1", uid: q.metadata.uid))
        let created = try await admin.createEvent(event)
        #expect(created.reason == "ScaledUp")
        #expect(created.eventTime == MicroTime(now))

        // Leases: create, get, update with resourceVersion; a stale update conflicts.
        let lease = try await admin.createLease(Lease(metadata: ObjectMeta(name: "batchctl-controller", namespace: Sim.namespace),
                                                      spec: LeaseSpec(holderIdentity: "a", leaseDurationSeconds: 15, acquireTime: MicroTime(now),
                                                                      renewTime: MicroTime(now), leaseTransitions: 0)))
        var renewed = try await admin.lease("batchctl-controller")
        #expect(renewed.spec.renewTime == MicroTime(now))
        renewed.spec.renewTime = MicroTime(now.adding(.init(milliseconds: 2000)))
        let after = try await admin.updateLease(renewed)
        #expect(after.spec.renewTime == MicroTime(now.adding(.init(milliseconds: 2000))))
        var stale = lease
        stale.spec.holderIdentity = "b"
        let conflict = await #expect(throws: KubeError.self) { try await admin.updateLease(stale) }
        #expect(conflict?.isConflict == true)

        // Not found is distinguishable.
        let missing = await #expect(throws: KubeError.self) { try await admin.deployment("nope") }
        #expect(missing?.isNotFound == true)
    }
}
