import BatchCore
import BatchTesting
import CeleryRedis
import Foundation

/// The queue probe for 4, 100 and 1,000 queues against realistic Celery data: every queue has
/// messages on several priority lists, and `unacked` holds a few hundred full task envelopes spread
/// over the queues.
struct ProbeBenchmark: Benchmark {
    let name = "probe"
    let summary = "Redis queue probe, 4/100/1,000 queues (time, round trips, commands)"
    /// (queues, unacked entries): the issue's three sizes with a few hundred unacked, then a larger
    /// `unacked` (steady state: read once, then only what changed; see the `unacked` group for 100,000).
    var cases = [(4, 300), (100, 300), (1000, 300), (4, 0), (4, 5000)]

    func run() async throws -> [Figure] {
        var figures: [Figure] = []
        for (count, unackedEntries) in cases {
            let server = try RedisServer()
            defer { server.stop() }
            let options = RedisConnectionOptions(url: RedisURL(endpoint: .tcp(host: "127.0.0.1", port: server.port)))
            let client = RedisClient(options: options)
            defer { client.close() }
            let queues = (0..<count).map { "batch\($0)" }
            try await load(client, queues: queues, unackedEntries: unackedEntries)

            let probe = QueueProbe(client: client, layout: .default, queues: queues)
            let check = try await probe.observe()
            _ = try await probe.observe()   // the first pass read every tag's routing; from here on only changes
            guard check.unacked.entries == unackedEntries, check.queues.allSatisfy({ $0.error == nil }) else {
                throw BenchError("unexpected probe result: \(check.unacked), \(check.queues.prefix(3))")
            }
            let runs = unackedEntries > 1000 ? 200 : (count <= 4 ? 3000 : (count <= 100 ? 1000 : 200))
            let tripsBefore = client.stats.roundTrips
            let commandsBefore = try commandsProcessed(client)
            let (median, p90) = try await measure(runs: runs, warmup: runs / 10) { _ = try await probe.observe() }
            let trips = client.stats.roundTrips - tripsBefore
            let commands = try commandsProcessed(client) - commandsBefore - 1   // minus the first INFO itself
            let timed = runs + runs / 10
            guard trips % timed == 0, commands % timed == 0 else {
                throw BenchError("round trips \(trips) or commands \(commands) are not a multiple of \(timed) probes")
            }
            let perProbe = trips / timed
            figures.append(Figure(
                name: "probe, \(count) queues, \(unackedEntries) unacked",
                median: median, p90: p90, runs: runs,
                notes: "\(perProbe) round trip\(perProbe == 1 ? "" : "s") per probe (client count); \(commands / timed) commands per probe (Redis total_commands_processed); \(count * 4) priority lists of 1–3 messages"))
            print("probe \(count) queues, \(unackedEntries) unacked: median \(median.milliseconds), p90 \(p90.milliseconds), \(perProbe) round trip(s), \(commands / timed) commands")
        }
        return figures
    }

    /// 1–3 messages on each of a queue's four priority lists; `unackedEntries` envelopes in `unacked`
    /// (with their `unacked_index` scores, as kombu writes them).
    func load(_ client: RedisClient, queues: [String], unackedEntries: Int) async throws {
        let keys = CeleryKeys(layout: .default)
        var commands: [[[UInt8]]] = []
        for (i, q) in queues.enumerated() {
            for (s, key) in keys.queueKeys(q).enumerated() {
                let n = 1 + (i + s) % 3
                commands.append([Array("LPUSH".utf8), Array(key.utf8)] + (0..<n).map { _ in Array(envelope(queue: q).utf8) })
            }
        }
        for k in 0..<unackedEntries {
            let q = queues[k % queues.count]
            let value = "[\(envelope(queue: q)), \"\", \"\(q)\"]"
            let tag = Array(UUID().uuidString.lowercased().utf8)
            commands.append([Array("HSET".utf8), Array(keys.unackedKey.utf8), tag, Array(value.utf8)])
            commands.append([Array("ZADD".utf8), Array(keys.unackedIndexKey.utf8), Array("\(Date().timeIntervalSince1970 - Double(k))".utf8), tag])
        }
        for chunk in stride(from: 0, to: commands.count, by: 500) {
            let replies = try await client.pipeline(Array(commands[chunk..<min(chunk + 500, commands.count)]))
            if let error = replies.first(where: { $0.errorMessage != nil }) { throw BenchError("loading failed: \(error)") }
        }
    }

    /// A Celery 5.7 task message as kombu stores it (about 1.1 KB).
    private func envelope(queue: String) -> String {
        let id = UUID().uuidString.lowercased()
        return #"{"body": "W1syLCAwXSwge30sIHsiY2FsbGJhY2tzIjogbnVsbCwgImVycmJhY2tzIjogbnVsbCwgImNoYWluIjogbnVsbCwgImNob3JkIjogbnVsbH1d", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"lang": "py", "task": "app.tasks.rehash_password", "id": "\#(id)", "shadow": null, "eta": null, "expires": null, "group": null, "group_index": null, "retries": 0, "timelimit": [null, null], "root_id": "\#(id)", "parent_id": null, "argsrepr": "(2, 0)", "kwargsrepr": "{}", "origin": "gen8603@web-5d9f", "ignore_result": null, "replaced_task_nesting": 0, "stamped_headers": null, "stamps": {}}, "properties": {"correlation_id": "\#(id)", "reply_to": "f73240af-3ca0-3c91-807f-14981139af98", "delivery_mode": 2, "delivery_info": {"exchange": "", "routing_key": "\#(queue)"}, "priority": 0, "body_encoding": "base64", "delivery_tag": "\#(UUID().uuidString.lowercased())"}}"#
    }

    func commandsProcessed(_ client: RedisClient) throws -> Int {
        // Read through redis-cli, so the probe's own client and counters are untouched.
        let port: Int
        switch client.server.split(separator: ":").last.flatMap({ Int($0) }) {
        case let p?: port = p
        case nil: throw BenchError("no port in \(client.server)")
        }
        let r = try Command.run("/usr/bin/redis-cli", ["-p", "\(port)", "INFO", "stats"])
        for line in r.stdout.split(whereSeparator: \.isNewline) where line.hasPrefix("total_commands_processed:") {
            if let n = Int(line.dropFirst("total_commands_processed:".count)) { return n }
        }
        throw BenchError("no total_commands_processed in INFO stats: \(r.stderr)")
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
