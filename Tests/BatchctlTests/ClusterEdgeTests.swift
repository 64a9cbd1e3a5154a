import BatchCore
import BatchTesting
import Foundation
import Testing

/// Lost races that are not someone else's claim, namespaces, and clusters without the CRD.
@Suite struct ClusterEdgeTests {
    @Test func aConflictFromAnotherWriteIsReadAgainAndWrittenOnce() throws {
        let f = try ClusterFixture()
        // One 409 as if the controller had written status between batchctl's read and its write.
        try f.sim.setFaults("patch /apis/batchctl.dev/v1alpha1/namespaces/*/batchqueues/* status=409,count=1")
        try f.sim.clearRequests()
        let r = try f.batchctl(["claim", "batch1", "-v"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("batchctl: batch1 changed since it was read"), "\(r.stderr)")
        let batch1 = try f.sim.requests().filter { $0.path.hasSuffix("/batchqueues/batch1") }
        #expect(batch1.map { "\($0.method) \($0.status)" } == ["GET 200", "PATCH 409", "GET 200", "PATCH 200"])
        #expect(try f.queue("batch1").spec.reservation?.holder == "alice")
    }

    @Test func anObjectThatKeepsChangingIsGivenUpOnWithoutAWrite() throws {
        let f = try ClusterFixture()
        try f.sim.setFaults("patch /apis/batchctl.dev/v1alpha1/namespaces/*/batchqueues/* status=409")
        let r = try f.batchctl(["claim", "batch1"])
        #expect(r.status == 1)
        #expect(r.stderr == "error: batch1 changed under batchctl on each of 8 attempts to write it; nothing was written, try again\n")
        #expect(try f.queue("batch1").spec.reservation == nil)
    }

    @Test func theNamespaceIsTheFlagThenTheContextAndNoConfigFileIsRead() throws {
        let f = try ClusterFixture()
        let dir = try TemporaryDirectory()
        let config = dir.path + "/batchctl.yaml"
        try "namespace: elsewhere\n".write(toFile: config, atomically: true, encoding: .utf8)

        // deploy/'s RBAC binds alice in court-listener only: elsewhere, the API server refuses her (403, exit 4).
        let elsewhere = try f.batchctl(["claim", "batch1", "-n", "elsewhere"])
        #expect(elsewhere.status == 4)
        #expect(elsewhere.stderr.contains("User \"alice\" cannot get resource \"batchqueues\" in API group \"batchctl.dev\" in the namespace \"elsewhere\""), "\(elsewhere.stderr)")
        let fromEnvironment = try f.batchctl(["claim", "batch1"], extraEnvironment: ["BATCHCTL_CONFIG": config])   // ignored: the rules are the cluster's
        #expect(fromEnvironment.status == 0, "\(fromEnvironment.stderr)")
        let oldFlag = try f.batchctl(["status", "batch1", "--config", config])
        #expect(oldFlag.status == 2)
        #expect(oldFlag.stderr.contains("--config"))
        let context = try f.batchctl(["status", "batch1", "-o", "json"])   // the context's namespace
        #expect(context.status == 0)
        #expect(context.stdout.contains("\"holder\" : \"alice\""))
    }

    @Test func aClusterWithoutTheCRDSaysSo() throws {
        let sim = try KubeSimServer.start()   // without deployPolicies: a cluster where nobody installed deploy/
        let r = try Command.run(ClusterFixture.batchctl, ["status", "--kubeconfig", sim.kubeconfigPath, "--context", "alice"],
                                environment: ["BATCHCTL_CONFIG": "", "HOME": sim.directory])
        #expect(r.status == 1)
        #expect(r.stderr.hasSuffix("does not serve batchqueues.batchctl.dev: the BatchQueue CRD is not installed; ask an admin to install it (kubectl apply -k deploy/crds, then kubectl apply -k deploy)\n"), "\(r.stderr)")
    }

    @Test func anUnreachableServerExitsOne() throws {
        let sim = try KubeSimServer.start()   // without deployPolicies: stopped at once, nothing is ever authorized
        sim.stop()
        let r = try Command.run(ClusterFixture.batchctl, ["claim", "batch1", "--kubeconfig", sim.kubeconfigPath, "--context", "alice"],
                                environment: ["BATCHCTL_CONFIG": "", "HOME": sim.directory])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.hasPrefix("error: "))
    }
}
