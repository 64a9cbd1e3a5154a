import BatchTesting
import Foundation
import Testing

/// ValidatingAdmissionPolicies stored in KubeSim are enforced on create and update with cel-python, as the
/// API server enforces them: params from the request's namespace, matchConditions, messageExpression,
/// validationActions, and the refusal's Status; without a CEL evaluator a matched write fails closed.
@Suite struct AdmissionTests {
    static let policy = """
        apiVersion: admissionregistration.k8s.io/v1
        kind: ValidatingAdmissionPolicy
        metadata: {name: max-replicas}
        spec:
          failurePolicy: Fail
          paramKind: {apiVersion: v1, kind: ConfigMap}
          matchConstraints:
            resourceRules:
              - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments]}
          matchConditions:
            - {name: not-bob, expression: "request.userInfo.username != 'bob'"}
          variables:
            - {name: limit, expression: "int(params.data.maxReplicas)"}
          validations:
            - expression: "object.spec.replicas <= variables.limit"
              messageExpression: "'replicas must be at most ' + string(variables.limit) + ' in ' + request.namespace"
              reason: Forbidden
            - expression: "!has(object.metadata.labels) || !('forbidden' in object.metadata.labels)"
        ---
        apiVersion: admissionregistration.k8s.io/v1
        kind: ValidatingAdmissionPolicyBinding
        metadata: {name: max-replicas}
        spec:
          policyName: max-replicas
          validationActions: [Deny]
          paramRef: {name: limits, parameterNotFoundAction: Deny}
          matchResources:
            namespaceSelector:
              matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [default, other]}]

        """

    func start(celPython: Bool = true) throws -> KubeSimServer {
        let s = try KubeSimServer.start(extraArguments: celPython ? ["--cel-python", DeployPolicies.celPython] : [])
        let dir = try TemporaryDirectory(prefix: "admission")
        let path = dir.path + "/policy.yaml"
        try Self.policy.write(toFile: path, atomically: true, encoding: .utf8)
        let applied = try s.kubectl(["apply", "--validate=false", "-f", path])
        try #require(applied.status == 0, "\(applied.stderr)")
        return s
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: DeployPolicies.celPython), "needs cel-python: make tools-venv"))
    func aPolicyWithParamsFromTheRequestsNamespaceDecidesCreateAndUpdate() throws {
        let s = try start()
        defer { s.stop() }
        try s.create("/api/v1/namespaces/default/configmaps", #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"limits"},"data":{"maxReplicas":"3"}}"#)
        try s.create("/api/v1/namespaces", #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"other"}}"#)

        let big = try s.curl("POST", KubeSimServer.deployments, body: Fixture.deployment("web", replicas: 5))
        #expect(big.status == 403, "\(big.body)")
        let body = Fixture.parse(big.body)
        let message = "ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas' denied request: replicas must be at most 3 in default"
        #expect(body["message"] as? String == "deployments.apps \"web\" is forbidden: " + message)
        #expect(body["reason"] as? String == "Forbidden")
        #expect(dig(body, "details", "kind") as? String == "deployments" && dig(body, "details", "group") as? String == "apps")
        #expect((dig(body, "details", "causes") as? [[String: Any]])?.first?["message"] as? String == message)

        #expect(try s.curl("POST", KubeSimServer.deployments, body: Fixture.deployment("web", replicas: 2)).status == 201)
        let scaled = try s.curl("PATCH", KubeSimServer.deployments + "/web", body: #"{"spec":{"replicas":4}}"#, contentType: "application/merge-patch+json")
        #expect(scaled.status == 403, "\(scaled.body)")
        // A validation without message or reason: 422 Invalid, "failed expression: ...".
        let labelled = try s.curl("PATCH", KubeSimServer.deployments + "/web", body: #"{"metadata":{"labels":{"forbidden":"yes"}}}"#,
                                  contentType: "application/merge-patch+json")
        #expect(labelled.status == 422, "\(labelled.body)")
        #expect((Fixture.parse(labelled.body)["message"] as? String)?.hasSuffix("denied request: failed expression: !has(object.metadata.labels) || !('forbidden' in object.metadata.labels)") == true,
                "\(labelled.body)")
        // matchConditions: the policy does not apply to bob.
        #expect(try s.curl("POST", KubeSimServer.deployments, body: Fixture.deployment("bobs", replicas: 9), user: "bob").status == 201)
        // No param in the request's namespace: parameterNotFoundAction Deny.
        let other = try s.curl("POST", "/apis/apps/v1/namespaces/other/deployments", body: Fixture.deployment("web", replicas: 1))
        #expect(other.status == 422, "\(other.body)")
        #expect((Fixture.parse(other.body)["message"] as? String)?.hasSuffix("no params found for policy binding with `Deny` parameterNotFoundAction") == true)
        // Outside the binding's namespaces nothing applies.
        try s.create("/api/v1/namespaces", #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"third"}}"#)
        #expect(try s.curl("POST", "/apis/apps/v1/namespaces/third/deployments", body: Fixture.deployment("web", replicas: 9)).status == 201)
    }

    @Test func withoutACELEvaluatorAWriteAPolicyMatchesIsRefusedSayingWhy() throws {
        let s = try start(celPython: false)   // KubeSim's own behaviour without --cel-python, hence no evaluator
        defer { s.stop() }
        try s.create("/api/v1/namespaces/default/configmaps", #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"limits"},"data":{"maxReplicas":"3"}}"#)
        let r = try s.curl("POST", KubeSimServer.deployments, body: Fixture.deployment("web", replicas: 1))
        #expect(r.status == 500, "\(r.body)")
        #expect(r.body.contains("KubeSim has no CEL evaluator. Start kubesim with --cel-python PATH"), "\(r.body)")
        #expect(Wait.until(timeout: .seconds(5)) { s.process.stderr.contains("kubesim: ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas' cannot be evaluated") })
        #expect(try s.curl("GET", KubeSimServer.deployments + "/web").status == 404)
    }
}
