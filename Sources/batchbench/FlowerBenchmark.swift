import BatchCore
import BatchTesting
import CeleryRedis
import Foundation

/// batchctl's probe beside the peer users run today, on the same Redis in the same run: Flower 2.2's
/// `Broker.queues` (the test venv's flower, driven by scripts/bench/flower_queues.py exactly as its
/// /api/queues/length does it: a new Broker per request, one pipelined LLEN per queue and priority step)
/// for 4, 100 and 1,000 queues with their four priority lists each. batchctl also reads 300 in-flight
/// entries (Flower does not look at `unacked`). Goal: batchctl's median ≤ 0.2 × Flower's.
struct FlowerBenchmark: Benchmark {
    let name = "flower"
    let summary = "batchctl's probe beside Flower's Broker.queues, 4/100/1,000 queues, same Redis, same run"
    var sizes = [4, 100, 1000]

    func run() async throws -> [Figure] {
        var figures: [Figure] = []
        let python = ProjectPaths.venvPython
        let script = ProjectPaths.root + "/scripts/bench/flower_queues.py"
        for count in sizes {
            let server = try RedisServer()
            defer { server.stop() }
            let client = RedisClient(options: RedisConnectionOptions(url: RedisURL(endpoint: .tcp(host: "127.0.0.1", port: server.port))))
            defer { client.close() }
            let queues = (0..<count).map { "batch\($0)" }
            try await ProbeBenchmark().load(client, queues: queues, unackedEntries: 300)
            let runs = count <= 100 ? 1000 : 300

            let probe = QueueProbe(client: client, layout: .default, queues: queues)
            let check = try await probe.observe()
            let ours = try await measure(runs: runs, warmup: runs / 10) { _ = try await probe.observe() }

            let r = try Command.run(python, [script, server.url, String(count), String(runs)])
            guard r.status == 0, let line = r.stdout.split(separator: "\n").last,
                  let json = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let median = json["median_ms"] as? Double, let p90 = json["p90_ms"] as? Double,
                  let messages = json["messages"] as? Int else {
                throw BenchError("flower_queues.py failed (\(r.status)): \(r.stderr.suffix(800))")
            }
            let depth = check.queues.compactMap(\.depth).reduce(0, +)
            guard messages == depth else { throw BenchError("Flower counted \(messages) messages, batchctl \(depth)") }
            let ratio = ours.median.seconds * 1000 / median
            figures.append(Figure(name: "Flower Broker.queues, \(count) queues", medianText: String(format: "%.3f ms", median),
                                  p90Text: String(format: "%.3f ms", p90), runs: runs,
                                  notes: "flower 2.2 in the test venv, redis-py asyncio: new Broker per request (as /api/queues/length), \(count * 4) LLEN in one MULTI; counts no in-flight tasks"))
            figures.append(Figure(name: "batchctl probe vs Flower, \(count) queues", median: ours.median, p90: ours.p90, runs: runs,
                                  notes: String(format: "same Redis, same run; also counts 300 in-flight entries; median ratio batchctl/Flower %.3f (%@ the goal ≤ 0.2)",
                                                ratio, ratio <= 0.2 ? "within" : "NOT within")))
            print("flower \(count) queues: Flower median \(String(format: "%.3f", median)) ms, batchctl \(ours.median.milliseconds), ratio \(String(format: "%.3f", ratio))")
        }
        return figures
    }
}
