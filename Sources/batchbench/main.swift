import Foundation

/// `batchbench [--only NAME] [--output FILE]`: runs the benchmarks and updates BENCHMARKS.md.
enum Benchmarks {
    /// Every benchmark; later ones (decide, reconcile, API requests) are added here.
    static let all: [any Benchmark] = [ProbeBenchmark(), ControllerBenchmark(), ControllerMemoryBenchmark(), BusyWorkerBenchmark()]
}

var only: String?
var output = "BENCHMARKS.md"
var args = CommandLine.arguments.dropFirst()
while let arg = args.popFirst() {
    switch arg {
    case "--only": only = args.popFirst()
    case "--output": output = args.popFirst() ?? output
    default:
        FileHandle.standardError.write(Data("usage: batchbench [--only \(Benchmarks.all.map(\.name).joined(separator: "|"))] [--output FILE]\n".utf8))
        exit(2)
    }
}

var figures: [Figure] = []
do {
    for benchmark in Benchmarks.all where only == nil || benchmark.name == only {
        figures += try await benchmark.run()
    }
    let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?   // only decorates the report
        .split(separator: "\n").first { $0.hasPrefix("model name") }?
        .split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
    let machine = "\(ProcessInfo.processInfo.activeProcessorCount) × \(cpu), redis-server 7 on loopback"
    try BenchmarkReport.write(figures, to: output, command: "make bench", machine: machine)
    print("wrote \(output)")
} catch {
    FileHandle.standardError.write(Data("batchbench: \(error)\n".utf8))
    exit(1)
}
