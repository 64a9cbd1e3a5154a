import Foundation

/// `batchbench [--only NAME] [--output FILE]`: runs the benchmarks and updates BENCHMARKS.md.
enum Benchmarks {
    /// Every benchmark group, in the order of BENCHMARKS.md's table.
    static let all: [any Benchmark] = [
        ProbeBenchmark(), DecideBenchmark(), ControllerBenchmark(), IdleRequestsBenchmark(), StatusCommandBenchmark(),
        RSSFloorBenchmark(), ControllerMemoryBenchmark(), BusyWorkerBenchmark(), UnackedBenchmark(), FlowerBenchmark(),
    ]

    static var usage: String {
        let width = all.map(\.name.count).max() ?? 0
        return """
            usage: batchbench [--only NAME] [--output FILE]
            Runs the benchmarks (all, or the group NAME) and rewrites their rows of FILE (default BENCHMARKS.md).
            Run from the package root after `make bench` built the release products. Groups:
            \(all.map { "  " + $0.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.summary }.joined(separator: "\n"))

            """
    }
}

var only: String?
var output = "BENCHMARKS.md"
var args = CommandLine.arguments.dropFirst()
while let arg = args.popFirst() {
    switch arg {
    case "--only":
        guard let name = args.popFirst(), Benchmarks.all.contains(where: { $0.name == name }) else {
            FileHandle.standardError.write(Data("batchbench: --only needs one of the group names below\n\(Benchmarks.usage)".utf8))
            exit(2)
        }
        only = name
    case "--output":
        guard let file = args.popFirst() else {
            FileHandle.standardError.write(Data("batchbench: --output needs a file name\n\(Benchmarks.usage)".utf8))
            exit(2)
        }
        output = file
    case "-h", "--help":
        print(Benchmarks.usage, terminator: "")
        exit(0)
    default:
        FileHandle.standardError.write(Data("batchbench: unknown argument '\(arg)'\n\(Benchmarks.usage)".utf8))
        exit(2)
    }
}

var figures: [(group: String, figure: Figure)] = []
do {
    for benchmark in Benchmarks.all where only == nil || benchmark.name == only {
        figures += try await benchmark.run().map { (benchmark.name, $0) }
    }
    let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?   // only decorates the report
        .split(separator: "\n").first { $0.hasPrefix("model name") }?
        .split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
    // The machine is shared: its load says how far to trust the figures of this run.
    let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first.map(String.init) ?? "unknown"
    let machine = "\(ProcessInfo.processInfo.activeProcessorCount) × \(cpu), redis-server 7 on loopback; 1-minute load average at the end: \(load)"
    try BenchmarkReport.write(figures, to: output, groups: Benchmarks.all.map(\.name), machine: machine)
    print("wrote \(output)")
} catch {
    FileHandle.standardError.write(Data("batchbench: \(error)\n".utf8))
    exit(1)
}
