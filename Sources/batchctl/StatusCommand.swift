import ArgumentParser
import BatchCore
import BatchctlKit
import FoundationEssentials
import KubeClient
#if canImport(Glibc)
import Glibc
#endif

/// `batchctl status [QUEUE...]`.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show who holds each queue, how much work it has and how many workers run.",
        discussion: """
        One row per queue: holder, reason, expiry (UTC and relative), depth (queued tasks), in-flight tasks, ready/desired workers and phase, as the controller last reported them in the BatchQueue objects. -o wide adds when it was claimed, busy workers, stranded tasks (held by a worker that died) with their redelivery time, the approved band, maxReplicas and the replica-hours the current claim used (USED; 'batchctl history' for earlier claims).

        On a terminal, depth is coloured in the team's terms (by default under 100 green, under 500 plain, from 500 yellow, 1,000 and more red: the BatchQueuePolicy's queueDepth); NO_COLOR turns colours off, and piped output never has them. --watch redraws the table in place on every change; piped, it appends a new table instead.

        -o json and -o yaml print the BatchQueue objects themselves as a BatchQueueList ({"apiVersion": "batchctl.dev/v1alpha1", "kind": "BatchQueueList", "items": [...]}), for scripts.

        Exit status: 0 ok, 1 the cluster could not be read, 2 bad input (such as an unknown queue).
        """
    )

    enum Output: String, ExpressibleByArgument, CaseIterable {
        case table, wide, json, yaml
    }

    @Argument(help: ArgumentHelp("Queues to show (default: all).", valueName: "queue"))
    var queues: [String] = []

    @Option(name: [.short, .customLong("output")], help: "Output format.")
    var output: Output = .table

    @Flag(help: "Keep running and show every change.")
    var watch = false

    @Option(help: .hidden)
    var watchLimit: Int?

    @OptionGroup(title: "Cluster options") var cluster: ClusterOptions

    func validate() throws {
        if let watchLimit, watchLimit < 1 { throw ValidationError("--watch-limit must be at least 1") }
    }

    func run() async throws {
        let service = try await cluster.connect()
        var shown = try await read(service)
        let terminal = isatty(STDOUT_FILENO) == 1
        let color = terminal && (ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty
        let view = StatusView(output: output, thresholds: service.policy.rules.queueDepth, color: color)
        guard watch else {
            print(try view.render(shown, now: service.now()), terminator: "")
            return
        }
        let names = Set(shown.compactMap(\.metadata.name))
        let filtered = !queues.isEmpty
        var current = Dictionary(shown.map { ($0.metadata.name ?? "", $0) }, uniquingKeysWith: { a, _ in a })
        var renders = 0
        func draw() throws {
            let text = try view.render(shown, now: service.now())
            if terminal {
                print("\u{1B}[H\u{1B}[2J" + text, terminator: "")
            } else {
                print((renders > 0 && output != .yaml ? "\n" : "") + text, terminator: "")
            }
            fflush(nil)
            renders += 1
        }
        try draw()
        if let watchLimit, renders >= watchLimit { return }
        var synced = false
        for try await event in service.client.watch(BatchQueue.self, namespace: service.namespace) {
            switch event {
            case .added(let q), .modified(let q): current[q.metadata.name ?? ""] = q
            case .deleted(let q): current[q.metadata.name ?? ""] = nil
            case .synced(let all):
                current = Dictionary(all.map { ($0.metadata.name ?? "", $0) }, uniquingKeysWith: { a, _ in a })
                synced = true
            case .undecodable(let u):
                // Not shown: `batchctl status` (without --watch) names it.
                current[u.name] = nil
            }
            let next = service.ordered(Array(current.values).filter { !filtered || names.contains($0.metadata.name ?? "") })
            // The first list repeats what was drawn already; draw again only on a change.
            guard synced, next != shown else { continue }
            shown = next
            try draw()
            if let watchLimit, renders >= watchLimit { return }
        }
    }

    func read(_ service: ReservationService) async throws -> [BatchQueue] {
        if queues.isEmpty { return try await service.queues() }
        var found: [BatchQueue] = []
        for name in queues { found.append(try await service.queue(name)) }
        return found
    }
}

/// Renders the queues in the chosen output format.
struct StatusView {
    let output: StatusCommand.Output
    let thresholds: DepthThresholds
    let color: Bool

    func render(_ queues: [BatchQueue], now: KubeTime) throws -> String {
        switch output {
        case .table, .wide: StatusTable(thresholds: thresholds, color: color, wide: output == .wide).render(queues, now: now)
        case .json: try BatchQueueList(items: queues).json()
        case .yaml: "---\n" + (try BatchQueueList(items: queues).yaml())
        }
    }
}
