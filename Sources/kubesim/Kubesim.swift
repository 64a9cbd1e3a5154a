import ArgumentParser
import Foundation
import KubeSim

/// `kubesim`: the Kubernetes API emulator (`serve`); `demo` comes later.
@main
struct Kubesim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kubesim",
        abstract: "A Kubernetes API emulator for tests and demos.",
        subcommands: [Serve.self],
        defaultSubcommand: Serve.self)
}

extension Kubesim {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve the emulated API on 127.0.0.1 and write DIR/kubeconfig, DIR/ca.crt and DIR/users.json.")

        @Option(help: "Directory for kubeconfig, ca.crt, users.json, client certificates and pod logs.")
        var dir: String

        @Option(help: "Port on 127.0.0.1 (0: any free port).")
        var port: Int = 0

        @Flag(help: "Serve plain HTTP instead of HTTPS.")
        var http = false

        @Flag(help: "Run Deployments that name a command (annotation kubesim.batchctl.dev/command) as local processes.")
        var kubelet = false

        @Option(help: "Fault rules: 'VERB PATH key=value,...;...' or a JSON array (see FaultRule).")
        var faults: String?

        @Option(help: "Extra users: JSON or YAML list of {name, groups, token?}.")
        var users: String?

        @Option(help: "RBAC documents (Role/ClusterRole/RoleBinding/ClusterRoleBinding, YAML or JSON); without it everyone may do anything.")
        var rbac: String?

        @Option(help: "Namespace of every kubeconfig context (created at start).")
        var namespace: String = "court-listener"

        @Option(help: "Watch history length; watches from older versions get 410 Expired.")
        var watchHistory: Int = 10_000

        @Option(help: "Milliseconds between bookmarks on idle watches that allow them.")
        var bookmarkIntervalMs: Int = 1000

        @Option(help: "Milliseconds before the deployment controller publishes status.")
        var controllerDelayMs: Int = 200

        @Option(help: "Upper bound in seconds of each pod's grace period when kubesim stops.")
        var shutdownGraceSeconds: Int = 10

        func validate() throws {
            guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535.") }
            guard watchHistory > 0 else { throw ValidationError("--watch-history must be positive.") }
        }

        func run() async throws {
            var options = APIServer.Options(directory: dir)
            options.port = port
            options.http = http
            options.kubelet = kubelet
            options.faults = faults
            options.usersFile = users
            options.rbacFile = rbac
            options.namespace = namespace
            options.simulator.watchHistory = watchHistory
            options.simulator.bookmarkInterval = .milliseconds(bookmarkIntervalMs)
            options.simulator.controllerDelay = .milliseconds(controllerDelayMs)
            options.shutdownGrace = .seconds(shutdownGraceSeconds)
            try await APIServer(options: options).run()
        }
    }
}
