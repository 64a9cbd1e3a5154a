import Foundation

/// Kubernetes time formats (reference §0).
public enum Timestamps {
    /// `metav1.Time`: RFC 3339, whole seconds, UTC.
    public static func rfc3339(_ date: Date = Date()) -> String {
        format(date, micro: false)
    }

    /// `metav1.MicroTime`: six fractional digits.
    public static func micro(_ date: Date = Date()) -> String {
        format(date, micro: true)
    }

    private static func format(_ date: Date, micro: Bool) -> String {
        let interval = date.timeIntervalSince1970
        var seconds = time_t(interval.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let base = String(format: "%04d-%02d-%02dT%02d:%02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                          Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        if micro {
            let fraction = Int((interval - interval.rounded(.down)) * 1_000_000)
            return base + String(format: ".%06dZ", min(fraction, 999_999))
        }
        return base + "Z"
    }

    /// Parses RFC 3339 (with or without fractional seconds).
    public static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = formatter.date(from: text) { return d }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }

    /// A human duration as kubectl prints ages: `45s`, `5m`, `3h`, `2d`, `3y`.
    public static func humanDuration(since date: Date, now: Date = Date()) -> String {
        let seconds = max(0, Int(now.timeIntervalSince(date)))
        if seconds < 120 { return "\(seconds)s" }
        let minutes = seconds / 60
        if minutes < 10 { return seconds % 60 == 0 ? "\(minutes)m" : "\(minutes)m\(seconds % 60)s" }
        if minutes < 180 { return "\(minutes)m" }
        let hours = minutes / 60
        if hours < 48 { return "\(hours)h" }
        let days = hours / 24
        if days < 365 * 2 { return "\(days)d" }
        return "\(days / 365)y"
    }
}
