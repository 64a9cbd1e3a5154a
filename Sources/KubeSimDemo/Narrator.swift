import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The demo's console: narration lines prefixed with the elapsed time, command output indented, and the live
/// table. On a terminal the table is redrawn in place under the narration; otherwise (a pipe, a file, CI)
/// it is printed as one line whenever it changes, at most once a second, with no cursor movement.
final class Narrator: Sendable {
    let timeline: Timeline
    let isTerminal: Bool
    private struct State {
        var liveLines: [String] = []
        var lastPlain: String?
        var lastPlainAt: Double = -10
    }
    private let state = Mutex(State())

    init(timeline: Timeline, isTerminal: Bool = isatty(1) == 1) {
        self.timeline = timeline
        self.isTerminal = isTerminal
    }

    /// One narration line: `[  12.3s] text`.
    func say(_ text: String) {
        let stamp = "[" + Timeline.format(timeline.now).leftPadded(7) + "]"
        emit(text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().map { i, line in
            i == 0 ? "\(stamp) \(line)" : String(repeating: " ", count: stamp.count + 1) + line
        })
    }

    /// A blank line (between the scenario's sections).
    func gap() { emit([""]) }

    /// Text shown as is, indented (command output, the timeline).
    func block(_ text: String, indent: Int = 4) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let trimmed = lines.last == "" ? Array(lines.dropLast()) : lines
        emit(trimmed.map { String(repeating: " ", count: indent) + $0 })
    }

    /// Shows the live table: redrawn in place on a terminal; else one compact line when it changed.
    func live(table: [String], compact: String) {
        if isTerminal {
            state.withLock { s in
                var out = Self.erase(s.liveLines.count)
                for line in table { out += line + "\n" }
                s.liveLines = table
                Self.write(out)
            }
            return
        }
        let now = timeline.now
        let changed = state.withLock { s -> Bool in
            guard s.lastPlain != compact, now - s.lastPlainAt >= 0.95 else { return false }
            s.lastPlain = compact
            s.lastPlainAt = now
            return true
        }
        if changed { say(compact) }
    }

    /// Leaves the last table on screen and stops redrawing it.
    func endLive() {
        state.withLock { s in s.liveLines = [] }
    }

    /// Writes lines above the live table (which is redrawn under them).
    private func emit(_ lines: [String]) {
        state.withLock { s in
            var out = isTerminal ? Self.erase(s.liveLines.count) : ""
            for line in lines { out += line + "\n" }
            for line in s.liveLines { out += line + "\n" }
            Self.write(out)
        }
    }

    private static func erase(_ lines: Int) -> String {
        lines == 0 ? "" : "\u{1B}[\(lines)A\u{1B}[J"
    }

    /// Unbuffered, so a parent process (or `tee`) sees each line at once.
    private static func write(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(1, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 {
                if n < 0 && errno == EINTR { continue }
                return
            }
            offset += n
        }
    }
}
