/// A length of time written the way people write it in config files and flags:
/// `90s`, `30m`, `12h`, `3d`, `1w`, `500ms`, or combinations from the largest unit to the
/// smallest such as `1d12h` or `1h30m`. Stored in whole milliseconds; never negative.
public struct TimeSpan: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The length in milliseconds.
    public let milliseconds: Int64

    /// Creates a span of `milliseconds`, which must not be negative.
    public init(milliseconds: Int64) {
        precondition(milliseconds >= 0, "TimeSpan cannot be negative")
        self.milliseconds = milliseconds
    }

    public static func milliseconds(_ ms: Int64) -> TimeSpan { TimeSpan(milliseconds: ms) }
    public static func seconds(_ s: Int64) -> TimeSpan { TimeSpan(milliseconds: s * 1000) }
    public static func minutes(_ m: Int64) -> TimeSpan { .seconds(m * 60) }
    public static func hours(_ h: Int64) -> TimeSpan { .minutes(h * 60) }
    public static func days(_ d: Int64) -> TimeSpan { .hours(d * 24) }
    public static let zero = TimeSpan(milliseconds: 0)

    /// The span as a Swift `Duration`.
    public var duration: Duration { .milliseconds(milliseconds) }
    /// The span in (possibly fractional) seconds.
    public var seconds: Double { Double(milliseconds) / 1000 }

    public static func < (lhs: TimeSpan, rhs: TimeSpan) -> Bool { lhs.milliseconds < rhs.milliseconds }

    /// Units from the largest to the smallest, with their length in milliseconds.
    static let units: [(suffix: String, ms: Int64, name: String)] = [
        ("w", 604_800_000, "week"), ("d", 86_400_000, "day"), ("h", 3_600_000, "hour"),
        ("m", 60_000, "minute"), ("s", 1_000, "second"), ("ms", 1, "millisecond"),
    ]

    /// The canonical spelling, which `parse` reads back: `1d12h`, `90s` → `1m30s`, `0s`.
    public var description: String {
        if milliseconds == 0 { return "0s" }
        var rest = milliseconds
        var out = ""
        for unit in Self.units where rest >= unit.ms {
            // Weeks are only used when the span is a whole number of weeks: `10d` reads better than `1w3d`.
            if unit.suffix == "w" && rest % unit.ms != 0 { continue }
            out += "\(rest / unit.ms)\(unit.suffix)"
            rest %= unit.ms
        }
        return out
    }

    /// Parses `text` (see the type's documentation), or throws a `TimeSpanError` that says what is
    /// wrong and shows a valid example.
    public static func parse(_ text: String) throws(TimeSpanError) -> TimeSpan {
        let s = text.trimmingWhitespace()
        guard !s.isEmpty else { throw TimeSpanError(input: text, problem: "is empty; write a duration such as 30m, 12h or 3d") }
        if s.hasPrefix("-") { throw TimeSpanError(input: text, problem: "is negative; durations must be zero or more") }
        if s.hasPrefix("+") { throw TimeSpanError(input: text, problem: "has a sign; write the number alone, such as 30m") }
        var total: Int64 = 0
        var lastUnitIndex = -1
        var chars = Substring(s)
        while !chars.isEmpty {
            let digits = chars.prefix(while: { $0.isASCII && $0.isNumber })
            guard !digits.isEmpty else {
                throw TimeSpanError(input: text, problem: "is not a duration; write a number then a unit (ms, s, m, h, d, w), such as 90s or 1d12h")
            }
            chars = chars.dropFirst(digits.count)
            let unitText = chars.prefix(while: { $0.isLetter })
            chars = chars.dropFirst(unitText.count)
            guard !unitText.isEmpty else {
                if chars.isEmpty {
                    throw TimeSpanError(input: text, problem: "has no unit; write \(digits)s, \(digits)m, \(digits)h or \(digits)d")
                }
                throw TimeSpanError(input: text, problem: "is not a duration; write a number then a unit (ms, s, m, h, d, w), such as 90s or 1d12h")
            }
            guard let unitIndex = units.firstIndex(where: { $0.suffix == unitText }) else {
                throw TimeSpanError(input: text, problem: "has an unknown unit \"\(unitText)\"; use ms, s, m, h, d or w")
            }
            guard unitIndex > lastUnitIndex else {
                throw TimeSpanError(input: text, problem: "repeats or reorders units; write them from the largest to the smallest, such as 1d12h")
            }
            lastUnitIndex = unitIndex
            guard let n = Int64(digits) else {
                throw TimeSpanError(input: text, problem: "is too long")
            }
            let (product, overflow1) = n.multipliedReportingOverflow(by: units[unitIndex].ms)
            let (sum, overflow2) = total.addingReportingOverflow(product)
            // Anything beyond 100 years is a typo, and keeps arithmetic on dates far from overflow.
            guard !overflow1, !overflow2, sum <= 100 * 365 * 86_400_000 else {
                throw TimeSpanError(input: text, problem: "is too long; the limit is 100 years")
            }
            total = sum
        }
        return TimeSpan(milliseconds: total)
    }
}

/// A duration that could not be parsed.
public struct TimeSpanError: BatchctlFailure, Equatable {
    /// The text as given.
    public let input: String
    /// What is wrong with it, starting with a verb (`is negative; ...`).
    public let problem: String
    public var kind: FailureKind { .badInput }
    public var description: String { "\"\(input)\" \(problem)" }
}

extension StringProtocol {
    /// The text without leading and trailing whitespace (spaces, tabs, newlines).
    public func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}

extension Duration {
    /// Whole milliseconds, rounded toward zero, saturating at Int64's range.
    public var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        let (ms, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return seconds > 0 ? .max : .min }
        let (total, overflowAdding) = ms.addingReportingOverflow(attoseconds / 1_000_000_000_000_000)
        return overflowAdding ? (seconds > 0 ? .max : .min) : total
    }
}
