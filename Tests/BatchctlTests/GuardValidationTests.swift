import BatchTesting
import Foundation
import Testing

/// Malformed guards are refused before the controller meets them, each message naming the guard: offline by
/// `batchctl config validate` on a BatchQueuePolicy file, and in the cluster by the admission policy
/// batchctl-policy-guards (deploy/base/admission-policy-guards.yaml) and the CRD's schema, as KubeSim enforces them.
@Suite struct GuardValidationTests {
    let batchctl = ProjectPaths.product("batchctl")

    static func policy(_ guards: String) -> String {
        "apiVersion: batchctl.dev/v1alpha1\nkind: BatchQueuePolicy\nmetadata: {name: default}\nspec:\n  guards:\n\(guards)"
    }

    @Test(arguments: [
        ("    - {name: db-connections, expr: \"\"}\n", #"spec.guards[0].expr: guard "db-connections": is empty"#),
        ("    - {name: db-connections, exprr: up}\n", #"spec.guards[0].exprr: guard "db-connections": unknown key; did you mean expr?"#),
    ])
    func configValidateRefusesAMalformedGuardNamingIt(_ c: (guards: String, line: String)) throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/policy.yaml"
        try Self.policy(c.guards).write(toFile: path, atomically: true, encoding: .utf8)
        let r = try Command.run(batchctl, ["config", "validate", path])
        #expect(r.status == 2, "\(r.stdout)\(r.stderr)")
        #expect(r.stderr.contains(c.line), "\(r.stderr)")
    }

    @Test func configValidateAcceptsWellFormedGuards() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/policy.yaml"
        try Self.policy("    - {name: db-connections, expr: \"sum(pg_stat_activity_count) < 80\", for: 30s}\n").write(toFile: path, atomically: true, encoding: .utf8)
        let r = try Command.run(batchctl, ["config", "validate", path])
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test func theAPIServerRefusesAnEmptyExpressionOrAnUnknownFieldNamingTheGuard() throws {
        let sim = try KubeSimServer.start(deployPolicies: true)
        defer { sim.stop() }
        func apply(_ guards: String) throws -> CommandResult {
            let path = sim.directory + "/policy.yaml"
            try Self.policy(guards).write(toFile: path, atomically: true, encoding: .utf8)
            return try sim.kubectl(["apply", "--validate=false", "-n", "court-listener", "-f", path])
        }
        let empty = try apply("    - {name: db-connections, expr: \"  \"}\n")
        #expect(empty.status != 0)
        #expect(empty.stderr.contains("guard db-connections: spec.guards[].expr is empty"), "\(empty.stderr)")
        let twice = try apply("    - {name: db, expr: up}\n    - {name: db, expr: up}\n")
        #expect(twice.status != 0)
        #expect(twice.stderr.contains("guard db: two guards have this name"), "\(twice.stderr)")
        // kubectl validates fields on the server (fieldValidation=Strict) when it can; KubeSim serves no OpenAPI, so ask directly.
        let path = sim.directory + "/unknown.json"
        try #"{"apiVersion":"batchctl.dev/v1alpha1","kind":"BatchQueuePolicy","metadata":{"name":"other"},"spec":{"guards":[{"name":"db-connections","exprr":"up"}]}}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        let unknown = try sim.kubectl(["create", "--raw", "/apis/batchctl.dev/v1alpha1/namespaces/court-listener/batchqueuepolicies?fieldValidation=Strict", "-f", path])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains(#"unknown field "spec.guards[0].exprr""#), "\(unknown.stderr)")
        let good = try apply("    - {name: db-connections, expr: \"sum(pg_stat_activity_count) < 80\"}\n")
        #expect(good.status == 0, "\(good.stderr)")

        // A BatchQueue's own guards: admins only, and never an empty expression.
        let queue = sim.directory + "/queue.yaml"
        func queueWith(_ guards: String) throws -> CommandResult {
            try "apiVersion: batchctl.dev/v1alpha1\nkind: BatchQueue\nmetadata: {name: batch7}\nspec:\n  deployment: celery-batch7\n  guards: \(guards)\n"
                .write(toFile: queue, atomically: true, encoding: .utf8)
            return try sim.kubectl(["apply", "--validate=false", "-n", "court-listener", "-f", queue])
        }
        let emptyOnQueue = try queueWith("[{name: es, expr: \"\"}]")
        #expect(emptyOnQueue.status != 0)
        #expect(emptyOnQueue.stderr.contains("guard es: spec.guards[].expr is empty"), "\(emptyOnQueue.stderr)")
        let created = try queueWith("[{name: es, expr: \"max(elasticsearch_thread_pool_queue_count) < 50\"}]")
        #expect(created.status == 0, "\(created.stderr)")
        let byUser = try sim.kubectl(["patch", "batchqueue", "batch7", "-n", "court-listener", "--context", "alice", "--type", "merge",
                                      "-p", #"{"spec":{"guards":[]}}"#])
        #expect(byUser.status != 0)
        #expect(byUser.stderr.contains("only admins (group batchctl:admins) set or change spec.guards of a BatchQueue"), "\(byUser.stderr)")
    }
}
