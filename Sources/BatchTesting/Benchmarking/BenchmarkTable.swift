import Foundation
import MemberwiseInit

/// One row of BENCHMARKS.md's table: a figure, how it was measured and how to measure it again.
@MemberwiseInit(.public)
public struct BenchmarkRow: Sendable, Equatable {
    public var figure: String
    /// As shown, with its unit: `0.298 ms`, `35.8 MiB`, `29 requests`.
    public var median: String
    public var p90: String
    public var runs: String
    /// The command that measures it again, such as `` `.build/release/batchbench --only decide` ``.
    public var command: String
    public var notes: String

    /// Parses a table line of exactly six cells (`\|` inside a cell is a literal bar); nil for anything
    /// else, such as the header's rule or prose.
    public init?(line: some StringProtocol) {
        let text = line.trimmingCharacters(in: .whitespaces)
        guard text.hasPrefix("|"), text.hasSuffix("|"), text.count > 1 else { return nil }
        var cells: [String] = []
        var cell = ""
        var escaped = false
        for c in text.dropFirst().dropLast() {
            if escaped {
                cell.append(c == "|" ? "|" : "\\\(c)")
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == "|" {
                cells.append(cell.trimmingCharacters(in: .whitespaces))
                cell = ""
            } else {
                cell.append(c)
            }
        }
        if escaped { cell.append("\\") }
        cells.append(cell.trimmingCharacters(in: .whitespaces))
        guard cells.count == 6, !cells[0].isEmpty, !cells[0].allSatisfy({ $0 == "-" }) else { return nil }
        self.init(figure: cells[0], median: cells[1], p90: cells[2], runs: cells[3], command: cells[4], notes: cells[5])
    }

    /// The row as a Markdown table line.
    public var line: String {
        "| " + [figure, median, p90, runs, command, notes].map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |"
    }

    /// The benchmark group named by the command's `--only NAME`, if any.
    public var group: String? {
        let words = command.replacingOccurrences(of: "`", with: " ").split(separator: " ")
        guard let i = words.firstIndex(of: "--only"), i + 1 < words.count else { return nil }
        return String(words[i + 1])
    }
}

/// BENCHMARKS.md's table: reading the rows of the last run and merging in the rows of this one.
public enum BenchmarkTable {
    public static let header = "| figure | median | p90 | runs | command | notes |"
    public static let rule = "|---|---|---|---|---|---|"

    /// The figure rows of a BENCHMARKS.md text (the header is not one).
    public static func rows(in text: String) -> [BenchmarkRow] {
        text.split(separator: "\n").compactMap { BenchmarkRow(line: $0) }.filter { $0.figure != "figure" }
    }

    /// The table after a run: every row of a group that ran is replaced by that group's new rows (so a
    /// figure no longer measured disappears); rows of other groups stay. Rows are ordered by `groups`
    /// (rows of a group not listed, or without one, last), then as measured or as they were.
    public static func merge(kept: [BenchmarkRow], new: [BenchmarkRow], groups: [String]) -> [BenchmarkRow] {
        let ran = Set(new.compactMap(\.group))
        let rows = kept.filter { $0.group.map { !ran.contains($0) } ?? true } + new
        func order(_ row: BenchmarkRow) -> Int { row.group.flatMap { groups.firstIndex(of: $0) } ?? groups.count }
        return rows.enumerated().sorted { (order($0.element), $0.offset) < (order($1.element), $1.offset) }.map(\.element)
    }
}

/// A quantity as the table shows it: a number and a unit.
public struct MeasuredValue: Sendable, Equatable {
    public var value: Double
    public var unit: String

    /// Parses `0.298 ms`, `1.2 s`, `850 µs`, `35.8 MiB`, `1,000 requests`; times are converted to ms.
    public init?(_ text: String) {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: " ", maxSplits: 1)
        guard let first = parts.first, let number = Double(first.replacingOccurrences(of: ",", with: "")) else { return nil }
        let unit = parts.count > 1 ? String(parts[1]).trimmingCharacters(in: .whitespaces) : ""
        switch unit {
        case "s": (value, self.unit) = (number * 1000, "ms")
        case "µs", "us": (value, self.unit) = (number / 1000, "ms")
        case "ns": (value, self.unit) = (number / 1_000_000, "ms")
        default: (value, self.unit) = (number, unit)
        }
    }
}

/// A performance target set by an issue, checked against the table.
public struct BenchmarkTarget: Sendable {
    public enum Check: Sendable {
        /// The row's p90 is at most `limit` (in `unit`; ms for times).
        case p90AtMost(Double, unit: String)
        /// The row's p90 is below `limit`.
        case p90Below(Double, unit: String)
        /// The row's notes contain this text.
        case notesContain(String)
    }

    /// The rows it applies to (all must pass).
    public var figures: [String]
    /// How the target reads, such as "probe, 4 queues: ≤ 0.5 ms (issue 3)".
    public var text: String
    public var check: Check
    /// Said after "not met": where the gap is explained.
    public var gap: String

    public init(_ text: String, figures: [String], check: Check, gap: String = "") {
        self.text = text
        self.figures = figures
        self.check = check
        self.gap = gap
    }

    /// `met (p90 0.370 ms)`, `not met (p90 35.8 MiB); <gap>`, or `not measured (no row ...)`.
    public func verdict(_ rows: [BenchmarkRow]) -> String {
        var seen: [String] = []
        var met = true
        for figure in figures {
            guard let row = rows.first(where: { $0.figure == figure }) else { return "not measured (no row \"\(figure)\")" }
            switch check {
            case .p90AtMost(let limit, let unit), .p90Below(let limit, let unit):
                guard let v = MeasuredValue(row.p90), v.unit == unit else { return "not measured (p90 \"\(row.p90)\" of \"\(figure)\" is not in \(unit))" }
                if case .p90AtMost = check { met = met && v.value <= limit } else { met = met && v.value < limit }
                seen.append("p90 \(row.p90)")
            case .notesContain(let text):
                let has = row.notes.contains(text)
                met = met && has
                seen.append(has ? "\(figure): yes" : "\(figure): no")
            }
        }
        let detail = seen.joined(separator: "; ")
        return met ? "met (\(detail))" : "not met (\(detail))" + (gap.isEmpty ? "" : "; \(gap)")
    }
}
