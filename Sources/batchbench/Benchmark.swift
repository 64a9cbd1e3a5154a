import Foundation

/// One measured figure: one row of BENCHMARKS.md.
struct Figure {
    /// Unique row name, e.g. "probe, 4 queues".
    var name: String
    /// The median and p90 as shown, such as `0.298 ms` or `21.4 MiB`.
    var medianText: String
    var p90Text: String
    var runs: Int
    /// Anything else worth a column: round trips, commands, data set.
    var notes: String

    init(name: String, median: Duration, p90: Duration, runs: Int, notes: String) {
        self.init(name: name, medianText: median.milliseconds, p90Text: p90.milliseconds, runs: runs, notes: notes)
    }

    init(name: String, medianText: String, p90Text: String, runs: Int, notes: String) {
        self.name = name
        self.medianText = medianText
        self.p90Text = p90Text
        self.runs = runs
        self.notes = notes
    }
}

/// The median and p90 of `samples` (sorted here).
func percentiles<T: Comparable>(_ samples: [T]) -> (median: T, p90: T) {
    let s = samples.sorted()
    return (s[s.count / 2], s[min(s.count - 1, Int(Double(s.count) * 0.9))])
}

/// A group of figures measured together (one setup). Add a new benchmark by conforming and listing it in
/// `Benchmarks.all`.
protocol Benchmark: Sendable {
    /// Selects the benchmark with `--only`.
    var name: String { get }
    func run() async throws -> [Figure]
}

/// Measures `body` `runs` times after `warmup` untimed runs; returns (median, p90).
func measure(runs: Int, warmup: Int, _ body: () async throws -> Void) async rethrows -> (median: Duration, p90: Duration) {
    for _ in 0..<warmup { try await body() }
    let clock = ContinuousClock()
    var samples: [Duration] = []
    samples.reserveCapacity(runs)
    for _ in 0..<runs {
        let start = clock.now
        try await body()
        samples.append(clock.now - start)
    }
    samples.sort()
    return (samples[samples.count / 2], samples[min(samples.count - 1, Int(Double(samples.count) * 0.9))])
}

extension Duration {
    /// `0.123 ms`.
    var milliseconds: String {
        let ms = Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
        return String(format: "%.3f ms", ms)
    }
}

/// Writes the figures into the table of BENCHMARKS.md, keeping rows of benchmarks not run this time.
enum BenchmarkReport {
    static let header = "| figure | median | p90 | runs | notes |"
    static let rule = "|---|---|---|---|---|"

    static func write(_ figures: [Figure], to path: String, command: String, machine: String) throws {
        var rows: [(String, String)] = []
        if FileManager.default.fileExists(atPath: path) {
            let existing = try String(contentsOfFile: path, encoding: .utf8)
            for line in existing.split(separator: "\n") where line.hasPrefix("| ") && line != header {
                let name = line.dropFirst(2).prefix { $0 != "|" }.trimmingCharacters(in: .whitespaces)
                rows.append((name, String(line)))
            }
        }
        for f in figures {
            let line = "| \(f.name) | \(f.medianText) | \(f.p90Text) | \(f.runs) | \(f.notes) |"
            if let i = rows.firstIndex(where: { $0.0 == f.name }) { rows[i].1 = line } else { rows.append((f.name, line)) }
        }
        let text = """
        # Benchmarks

        Produced by `\(command)` (release build). Each figure is the median and 90th percentile of the
        runs listed, after warm-up runs, against a real redis-server (and, for the controller, KubeSim)
        started on loopback by the benchmark.
        Rows of benchmarks not run in the last invocation are kept as they were.

        Last run: \(ISO8601DateFormatter().string(from: Date())) on \(machine).

        \(header)
        \(rule)
        \(rows.map(\.1).joined(separator: "\n"))

        Targets: probe ≤ 0.5 ms for 4 queues, ≤ 20 ms for 1,000 queues, 1 round trip per probe (issue 3);
        claim → first scale write under 1 s, new task on a sleeping queue → scale write under the poll
        interval + 0.5 s, controller RSS under 25 MiB (issue 7).

        Busy workers (issue 8): each "busy workers" row is one run of an end-to-end scenario (`batchbench --only
        busy-workers`): KubeSim's kubelet runs real `celery worker` pods (concurrency 1, prefetch 1, early ack,
        terminationGracePeriodSeconds 3 s), `batchctl controller` scales them, and a 20 s task runs while the
        scenario happens; median and p90 are its wall time. A task is *interrupted* when it wrote "start ID" but
        never "done ID": its worker was stopped under it, and with early ack it is lost. `busyAware false` is the
        depth-only policy of KEDA's Redis scaler (queue length and unacked only, no pod-deletion-cost); without
        deletion costs the pods removed are KubeSim's tie-break (the newest), so whether the busy one goes is chance
        (2 in 3 when 2 of 3 pods go). These rows count tasks, not speed.

        Controller memory (issue 7): against a 25 MiB target. Most of it is fixed cost: the static binary
        links the full Foundation with its ICU data (a Foundation "hello world" alone is about 18 MB resident
        here, against 11.6 MB with FoundationEssentials only); Yams, the kubeconfig loader and the date
        formatting pull it in. Meeting the target means moving every module the controller links to
        FoundationEssentials; the controller's pod requests 48 MiB and is limited to 96 MiB
        (deploy/base/controller.yaml), sized from this figure.

        """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}
