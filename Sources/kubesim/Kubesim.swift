import ArgumentParser
import Foundation
import KubeSim
import KubeSimDemo

/// `kubesim`: the Kubernetes API emulator (`serve`) and the whole system running locally (`demo`).
@main
struct Kubesim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kubesim",
        abstract: "A Kubernetes API emulator for tests and demos.",
        subcommands: [Serve.self, Demo.self],
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

        @Option(help: ArgumentHelp("A Python with cel-python (such as .venv-tools/bin/python) that evaluates ValidatingAdmissionPolicies; default $KUBESIM_CEL_PYTHON. Without one, writes that a policy binding matches are refused.", valueName: "path"))
        var celPython: String?

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
            if let python = resolvedCELPython, !FileManager.default.isExecutableFile(atPath: python) {
                throw ValidationError("--cel-python \(python) is not an executable; run `make tools-venv` (it installs cel-python in .venv-tools).")
            }
        }

        var resolvedCELPython: String? {
            celPython ?? ProcessInfo.processInfo.environment["KUBESIM_CEL_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
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
            options.simulator.celPython = resolvedCELPython
            options.simulator.watchHistory = watchHistory
            options.simulator.bookmarkInterval = .milliseconds(bookmarkIntervalMs)
            options.simulator.controllerDelay = .milliseconds(controllerDelayMs)
            options.shutdownGrace = .seconds(shutdownGraceSeconds)
            try await APIServer(options: options).run()
        }
    }
}

extension Kubesim {
    struct Demo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the whole system locally and narrate batchctl at work.",
            discussion: """
                Starts, on 127.0.0.1 and in a temporary directory: redis-server; KubeSim with its kubelet, whose \
                celery-batch0..3 Deployments run real `celery worker` processes (demo/celery, from the project's .venv); \
                the BatchQueue CRD and the four queues; `batchctl controller` as a separate process (found next to \
                kubesim); and a webhook receiver that prints the controller's reminders. Then alice claims batch1, sends \
                tasks, and the demo shows the controller ramping up, draining, sleeping, waking, the release, and the \
                reminder for tasks sent to unclaimed batch2, with a closing timeline. Ctrl-C stops every process it \
                started. Exit status: 0 done, 1 a step failed or timed out, 130 (SIGINT) or \
                143 (SIGTERM) interrupted; Ctrl-C ends an --interactive demo with 0.
                """)

        @Flag(help: "After the scenario, keep everything running and print the KUBECONFIG to try batchctl and kubectl against it; Ctrl-C stops it.")
        var interactive = false

        @Flag(inversion: .prefixedNo, help: "Run the narrated scenario (--no-scenario with --interactive goes straight to trying it by hand).")
        var scenario = true

        @Option(help: "Tasks alice sends to batch1.")
        var tasks = 400

        @Option(help: "Tasks that wake the sleeping queue.")
        var wakeTasks = 20

        @Option(help: ArgumentHelp("Write the timeline (phases, measures, task counts, pids started) as JSON to this file.", valueName: "file"))
        var timelineJson: String?

        @Option(help: ArgumentHelp("The batchctl checkout with demo/ and .venv (default: found from the current directory).", valueName: "dir"))
        var projectDir: String?

        func validate() throws {
            guard (1...5000).contains(tasks) else { throw ValidationError("--tasks must be between 1 and 5000.") }
            guard (1...1000).contains(wakeTasks) else { throw ValidationError("--wake-tasks must be between 1 and 1000.") }
            guard scenario || interactive else { throw ValidationError("--no-scenario needs --interactive (otherwise there is nothing to do).") }
        }

        func run() async throws {
            var options = DemoOptions()
            options.interactive = interactive
            options.scenario = scenario
            options.tasks = tasks
            options.wakeTasks = wakeTasks
            options.timelineJSON = timelineJson
            options.projectDirectory = projectDir
            let status = await KubeSimDemo.Demo.run(options)
            if status != 0 { throw ExitCode(status) }
        }
    }
}
