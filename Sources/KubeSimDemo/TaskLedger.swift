import Foundation
import Synchronization

/// Which demo tasks were sent and which completed, from the file every task appends "TASK_ID POD" to when it
/// completes (see demo/celery/app.py): the demo's "every task completed exactly once" check.
final class TaskLedger: Sendable {
    /// Counts for the checks and the timeline.
    struct Summary: Sendable {
        /// Tasks sent to queues that have workers.
        var sent: Int
        /// Completion lines.
        var completions: Int
        /// Sent tasks that completed exactly once.
        var completedOnce: Int
        /// Tasks that completed more than once.
        var duplicates: [String]
        /// Sent tasks that never completed.
        var missing: [String]
        /// Completions of ids that were never sent.
        var unexpected: [String]
        var isExactlyOnce: Bool { duplicates.isEmpty && missing.isEmpty && unexpected.isEmpty }
    }

    private struct State {
        var expected: [String] = []
        var expectedSet: Set<String> = []
        var counts: [String: Int] = [:]
        var lines = 0
        var offset: UInt64 = 0
        var partial: [UInt8] = []
    }

    /// The completions file (the workers' `DEMO_COMPLETIONS`).
    let path: String
    private let state = Mutex(State())

    init(path: String) throws {
        self.path = path
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw DemoError.startFailed("cannot create \(path)")
        }
    }

    /// The ids `produce.py QUEUE count prefix` sends: `prefix-0001`... (at least 4 digits).
    static func ids(prefix: String, count: Int) -> [String] {
        let width = max(4, String(count).count)
        return (1...max(1, count)).prefix(count).map { i in
            let digits = String(i)
            return "\(prefix)-\(String(repeating: "0", count: width - digits.count))\(digits)"
        }
    }

    /// Registers tasks that workers will run (orphaned tasks, which nobody runs, are not registered).
    func expect(prefix: String, count: Int) {
        let ids = Self.ids(prefix: prefix, count: count)
        state.withLock { s in
            s.expected += ids
            s.expectedSet.formUnion(ids)
        }
    }

    /// Reads the lines appended since the last call (under the lock, so concurrent callers never count a line twice).
    func refresh() {
        state.withLock { s in
            guard let handle = FileHandle(forReadingAtPath: path) else { return }
            defer { try? handle.close() }
            guard (try? handle.seek(toOffset: s.offset)) != nil, let data = try? handle.readToEnd(), !data.isEmpty else { return }
            s.offset += UInt64(data.count)
            var bytes = s.partial + Array(data)
            s.partial = []
            guard let lastNewline = bytes.lastIndex(of: UInt8(ascii: "\n")) else {
                s.partial = bytes
                return
            }
            if lastNewline < bytes.count - 1 {
                s.partial = Array(bytes[(lastNewline + 1)...])
                bytes.removeSubrange((lastNewline + 1)...)
            }
            for line in bytes.split(separator: UInt8(ascii: "\n")) {
                guard let id = line.split(separator: UInt8(ascii: " ")).first else { continue }
                s.counts[String(decoding: id, as: UTF8.self), default: 0] += 1
                s.lines += 1
            }
        }
    }

    /// Distinct tasks with this prefix that completed.
    func completed(prefix: String) -> Int {
        state.withLock { s in s.counts.keys.filter { $0.hasPrefix(prefix + "-") }.count }
    }

    /// Tasks sent to batch1 so far, and how many of them completed.
    var progress: (done: Int, sent: Int) {
        state.withLock { s in (s.expected.filter { s.counts[$0] != nil }.count, s.expected.count) }
    }

    var summary: Summary {
        state.withLock { s in
            let duplicates = s.counts.filter { $0.value > 1 }.map(\.key).sorted()
            let missing = s.expected.filter { s.counts[$0] == nil }
            let unexpected = s.counts.keys.filter { !s.expectedSet.contains($0) }.sorted()
            let once = s.expected.filter { s.counts[$0] == 1 }.count
            return Summary(sent: s.expected.count, completions: s.lines, completedOnce: once,
                           duplicates: duplicates, missing: missing, unexpected: unexpected)
        }
    }
}
