import Testing
@testable import BatchCore

@Suite struct TimeSpanTests {
    @Test(arguments: [
        ("90s", 90_000), ("30m", 1_800_000), ("12h", 43_200_000), ("3d", 259_200_000), ("1w", 604_800_000),
        ("1d12h", 129_600_000), ("1h30m", 5_400_000), ("500ms", 500), ("1m30s", 90_000), ("0s", 0),
        (" 2h ", 7_200_000), ("1w2d3h4m5s6ms", 788_645_006),
    ] as [(String, Int64)])
    func parsesValidDurations(_ text: String, _ ms: Int64) throws {
        #expect(try TimeSpan.parse(text).milliseconds == ms)
    }

    @Test(arguments: [
        ("", "\"\" is empty; write a duration such as 30m, 12h or 3d"),
        ("-5m", "\"-5m\" is negative; durations must be zero or more"),
        ("+5m", "\"+5m\" has a sign; write the number alone, such as 30m"),
        ("90", "\"90\" has no unit; write 90s, 90m, 90h or 90d"),
        ("5y", "\"5y\" has an unknown unit \"y\"; use ms, s, m, h, d or w"),
        ("30m1h", "\"30m1h\" repeats or reorders units; write them from the largest to the smallest, such as 1d12h"),
        ("1h1h", "\"1h1h\" repeats or reorders units; write them from the largest to the smallest, such as 1d12h"),
        ("h", "\"h\" is not a duration; write a number then a unit (ms, s, m, h, d, w), such as 90s or 1d12h"),
        ("1.5h", "\"1.5h\" is not a duration; write a number then a unit (ms, s, m, h, d, w), such as 90s or 1d12h"),
        ("1h 30m", "\"1h 30m\" is not a duration; write a number then a unit (ms, s, m, h, d, w), such as 90s or 1d12h"),
        ("99999999999999999999s", "\"99999999999999999999s\" is too long"),
        ("6000w", "\"6000w\" is too long; the limit is 100 years"),
    ])
    func refusesInvalidDurations(_ text: String, _ message: String) {
        #expect(throws: TimeSpanError.self) { try TimeSpan.parse(text) }
        do {
            _ = try TimeSpan.parse(text)
        } catch {
            #expect(error.description == message)
            #expect(error.kind == .badInput)
        }
    }

    @Test(arguments: [
        (90_000, "1m30s"), (0, "0s"), (129_600_000, "1d12h"), (604_800_000, "1w"), (864_000_000, "10d"),
        (1_209_600_000, "2w"), (500, "500ms"), (3_600_500, "1h500ms"),
    ] as [(Int64, String)])
    func printsCanonicalForm(_ ms: Int64, _ text: String) throws {
        let span = TimeSpan(milliseconds: ms)
        #expect(span.description == text)
        #expect(try TimeSpan.parse(text) == span)
    }
}

/// The difference of two Kubernetes times is a `Duration`, compared with spans, saturating.
@Suite struct KubeTimeDifferenceTests {
    @Test(arguments: [
        (1_000_000, 0, Int64(1_000)),                   // one second later
        (0, 1_500, Int64(-1)),                          // 1.5 ms earlier: toward zero
        (Int64.max, Int64.min, Int64.max / 1_000),      // saturates instead of trapping
    ] as [(Int64, Int64, Int64)])
    func differenceInWholeMilliseconds(a: Int64, b: Int64, ms: Int64) {
        let d = KubeTime(microsecondsSinceEpoch: a) - KubeTime(microsecondsSinceEpoch: b)
        #expect(d.wholeMilliseconds == ms)
    }

    @Test func aDifferenceComparesWithASpan() {
        let t = KubeTime(secondsSinceEpoch: 1_800_000_000)
        #expect(t.adding(TimeSpan(milliseconds: 90_000)) - t == TimeSpan(milliseconds: 90_000).duration)
        #expect(t.adding(TimeSpan(milliseconds: 90_000)) - t < TimeSpan(milliseconds: 90_001).duration)
    }
}
