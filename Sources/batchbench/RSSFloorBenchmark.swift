import BatchTesting
import Foundation

/// Resident memory of `rssfloor`: the Swift runtime and standard library (static) plus libcurl and OpenSSL
/// doing one HTTPS GET a second against KubeSim. The floor under "controller RSS after 10 minutes".
struct RSSFloorBenchmark: Benchmark {
    let name = "rss-floor"
    let summary = "resident memory of a minimal Swift + libcurl HTTPS program (the floor under the controller's)"

    func run() async throws -> [Figure] {
        let sim = try KubeSimServer.start()   // no deploy/ policies: rssfloor only GETs /healthz, which everyone may
        defer { sim.stop() }
        let logs = try TemporaryDirectory(prefix: "rssfloor")
        let floor = try ChildProcess(name: "rssfloor", executable: ProjectPaths.product("rssfloor"),
                                     arguments: [sim.url + "/healthz", sim.caPath], logDirectory: logs.path)
        defer { floor.stop() }
        let memory = ControllerMemoryBenchmark()
        var samples: [Double] = []
        for _ in 0..<6 {
            try await Task.sleep(for: .seconds(5))
            samples.append(try memory.rssMiB(floor.pid))
        }
        let anon = try memory.status(floor.pid, "RssAnon:")
        let breakdown = try memory.residentByMapping(floor.pid).prefix(5)
            .map { "\($0.name) " + String(format: "%.1f", $0.mib) }.joined(separator: ", ")
        let p = try Percentiles(samples)
        return [Figure(name: "RSS floor: Swift runtime + libcurl HTTPS, nothing else", medianText: String(format: "%.1f MiB", p.median),
                       p90Text: String(format: "%.1f MiB", p.p90), runs: samples.count,
                       notes: String(format: "`rssfloor`: release build, static Swift stdlib, one GET a second to KubeSim over HTTPS; samples every 5 s for 30 s; anonymous %.1f MiB; ", anon)
                           + "resident by mapping, MiB: \(breakdown)")]
    }
}
