/// A Kubernetes `metav1.Time`: an instant written as RFC 3339 with whole seconds (`2026-11-21T10:00:00Z`).
///
/// Stored as microseconds since the Unix epoch so the same type also carries `metav1.MicroTime`
/// values (see `MicroTime`). Decoding accepts any RFC 3339 form (fractions, offsets); encoding writes UTC.

import MemberwiseInit

@MemberwiseInit(.public)
public struct KubeTime: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// Microseconds since 1970-01-01T00:00:00Z.
    public var microsecondsSinceEpoch: Int64

    /// An instant from whole seconds since the epoch.
    public init(secondsSinceEpoch: Int64) { self.microsecondsSinceEpoch = secondsSinceEpoch * 1_000_000 }

    /// Whole seconds since the epoch (rounded down).
    public var secondsSinceEpoch: Int64 { microsecondsSinceEpoch.floorDiv(1_000_000) }

    /// Parses RFC 3339 (`2026-11-21T10:00:00Z`, `2026-11-21T10:00:00.123456+01:00`); nil if malformed.
    public init?(rfc3339 text: String) {
        guard let us = RFC3339.parse(text) else { return nil }
        microsecondsSinceEpoch = us
    }

    /// RFC 3339 in UTC with whole seconds, as `metav1.Time` is written.
    public var rfc3339: String { RFC3339.format(microseconds: microsecondsSinceEpoch, fractionDigits: 0) }

    public var description: String { rfc3339 }

    public static func < (a: KubeTime, b: KubeTime) -> Bool { a.microsecondsSinceEpoch < b.microsecondsSinceEpoch }

    /// How long after `b` the instant `a` is (negative when before), saturating at Int64's microseconds:
    /// the difference of two times as a `Duration`, so callers compare it with `TimeSpan.duration` and
    /// never spell microseconds out.
    public static func - (a: KubeTime, b: KubeTime) -> Duration {
        let (difference, overflow) = a.microsecondsSinceEpoch.subtractingReportingOverflow(b.microsecondsSinceEpoch)
        let micros = overflow ? (a > b ? Int64.max : Int64.min) : difference
        return .microseconds(micros)
    }

    /// This instant moved by `span`.
    public func adding(_ span: TimeSpan) -> KubeTime {
        KubeTime(microsecondsSinceEpoch: microsecondsSinceEpoch + span.milliseconds * 1000)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let us = RFC3339.parse(s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "\"\(s)\" is not an RFC 3339 time")
        }
        microsecondsSinceEpoch = us
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rfc3339)
    }
}

/// A Kubernetes `metav1.MicroTime` (Lease times, Event `eventTime`): RFC 3339 with 6 fractional digits.
public struct MicroTime: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// The instant.
    public var time: KubeTime

    /// Wraps an instant.
    public init(_ time: KubeTime) { self.time = time }

    /// `2006-01-02T15:04:05.000000Z`.
    public var rfc3339: String { RFC3339.format(microseconds: time.microsecondsSinceEpoch, fractionDigits: 6) }

    public var description: String { rfc3339 }

    public static func < (a: MicroTime, b: MicroTime) -> Bool { a.time < b.time }

    public init(from decoder: any Decoder) throws { time = try KubeTime(from: decoder) }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rfc3339)
    }
}

extension Int64 {
    fileprivate func floorDiv(_ d: Int64) -> Int64 {
        let q = self / d
        return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q
    }
}

/// RFC 3339 without Foundation: civil-date arithmetic after Howard Hinnant's `days_from_civil`.
enum RFC3339 {
    static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    static func format(microseconds us: Int64, fractionDigits: Int) -> String {
        let secs = us.floorDiv(1_000_000)
        let micros = us - secs * 1_000_000
        let days = secs.floorDiv(86_400)
        let rem = secs - days * 86_400
        let (y, m, d) = civilFromDays(days)
        func pad(_ v: Int64, _ w: Int) -> String {
            let s = String(v)
            return s.count >= w ? s : String(repeating: "0", count: w - s.count) + s
        }
        var out = "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(rem / 3600, 2)):\(pad(rem / 60 % 60, 2)):\(pad(rem % 60, 2))"
        if fractionDigits > 0 { out += "." + pad(micros, 6) }
        return out + "Z"
    }

    static func parse(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        var i = 0
        func num(_ n: Int) -> Int64? {
            guard i + n <= b.count else { return nil }
            var v: Int64 = 0
            for k in i..<(i + n) {
                guard b[k] >= 48, b[k] <= 57 else { return nil }
                v = v * 10 + Int64(b[k] - 48)
            }
            i += n
            return v
        }
        func expect(_ c: UInt8...) -> Bool {
            guard i < b.count, c.contains(b[i]) else { return false }
            i += 1
            return true
        }
        guard let y = num(4), expect(45), let mo = num(2), expect(45), let d = num(2), expect(84, 116, 32),
              let h = num(2), expect(58), let mi = num(2), expect(58), let s = num(2) else { return nil }
        guard (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61 else { return nil }
        var micros: Int64 = 0
        if i < b.count, b[i] == 46 {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if digits < 6 { micros = micros * 10 + Int64(b[i] - 48) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 6) { micros *= 10 }
        }
        var offset: Int64 = 0
        if expect(90, 122) {
        } else if i < b.count, b[i] == 43 || b[i] == 45 {
            let sign: Int64 = b[i] == 45 ? -1 : 1
            i += 1
            guard let oh = num(2), expect(58), let om = num(2) else { return nil }
            offset = sign * (oh * 3600 + om * 60)
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let secs = daysFromCivil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset
        return secs * 1_000_000 + micros
    }
}
