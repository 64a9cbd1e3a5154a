import BatchTesting
import Foundation
import Testing

/// RUNBOOK.md's install, step by step, on KubeSim: the CRDs, wait until Established, then the base. KubeSim
/// serves the kinds deploy/ uses (Service, CronJob, PodDisruptionBudget, NetworkPolicy, admission policies).
@Suite struct InstallTests {
    /// kubectl as on a fresh cluster (`--validate=false`: KubeSim serves no OpenAPI documents).
    func kubectl(_ s: KubeSimServer, _ arguments: [String]) throws -> CommandResult {
        try s.kubectl(arguments, timeout: .seconds(120))
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: DeployPolicies.celPython), "needs cel-python: make tools-venv"))
    func theDocumentedInstallAppliesTheBaseInOnePassWithoutMonitoring() throws {
        let s = try KubeSimServer.start(extraArguments: ["--cel-python", DeployPolicies.celPython])
        defer { s.stop() }
        let root = ProjectPaths.root
        let crds = try kubectl(s, ["apply", "--validate=false", "-k", root + "/deploy/crds"])
        #expect(crds.status == 0, "\(crds.stderr)")
        let wait = try kubectl(s, ["wait", "--for", "condition=Established", "--timeout", "60s", "crd/batchqueues.batchctl.dev",
                                     "crd/batchqueuepolicies.batchctl.dev"])
        #expect(wait.status == 0, "\(wait.stderr)")
        let base = try kubectl(s, ["apply", "--validate=false", "-k", root + "/deploy"])
        #expect(base.status == 0, "\(base.stderr)")
        for (resource, count) in [("batchqueues", 4), ("batchqueuepolicies", 1), ("cronjobs", 1), ("services", 1), ("poddisruptionbudgets", 1), ("networkpolicies", 2),
                                  ("serviceaccounts", 2), ("roles", 4), ("rolebindings", 4)] {
            let r = try kubectl(s, ["get", resource, "-n", "court-listener", "-o", "name"])
            #expect(r.status == 0 && r.stdout.split(separator: "\n").count == count, "\(resource): \(r.stdout) \(r.stderr)")
        }
        let policies = try kubectl(s, ["get", "validatingadmissionpolicies,validatingadmissionpolicybindings", "-o", "name"])
        #expect(policies.stdout.contains("validatingadmissionpolicy.admissionregistration.k8s.io/batchctl-batchqueue-rules"), "\(policies.stdout)")
        #expect(policies.stdout.contains("validatingadmissionpolicybinding.admissionregistration.k8s.io/batchctl-controller-pods"))
        #expect(!base.stdout.contains("prometheusrule") && !base.stdout.contains("grafana"), "\(base.stdout)")
        // Applying it again changes nothing (the install is repeatable; upgrades use the same commands).
        let again = try kubectl(s, ["apply", "--validate=false", "-k", root + "/deploy"])
        #expect(again.status == 0, "\(again.stderr)")

        // The monitoring component needs the Prometheus Operator's CRDs, which KubeSim (like a bare cluster) lacks.
        let monitoring = try kubectl(s, ["apply", "--validate=false", "-k", root + "/deploy/overlays/batch-jobs"])
        #expect(monitoring.status != 0)
        #expect(monitoring.stderr.contains("PrometheusRule"), "\(monitoring.stderr)")
    }
}
