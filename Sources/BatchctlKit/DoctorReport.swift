import BatchCore
import FoundationEssentials

/// What `batchctl doctor` prints: a table on a terminal, or JSON for scripts
/// (`{"result": "fail", "checks": [{"check", "status", "detail", "fix"}...]}`).
public struct DoctorReport: Sendable, Codable, Equatable {
    /// The worst status: `fail` makes the command exit 1.
    public var result: CheckStatus
    public var checks: [DoctorCheck]

    public init(checks: [DoctorCheck]) {
        self.checks = checks
        result = DoctorRules.worst(checks)
    }

    /// Pretty JSON with sorted keys and a final newline.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    /// One line per check (`STATUS  CHECK  DETAIL`), the fix indented under it, and a summary line.
    /// With `color`, warn is yellow and fail red.
    public func table(color: Bool) -> String {
        let width = min(40, checks.map(\.check.count).max() ?? 5)
        var out = "STATUS  " + pad("CHECK", width) + "  DETAIL\n"
        for c in checks {
            let status = pad(c.status.rawValue, 6)
            let code = c.status == .fail ? "31" : c.status == .warn ? "33" : nil
            let painted = color && code != nil ? "\u{1B}[\(code ?? "")m\(status)\u{1B}[0m" : status
            out += painted + "  " + pad(c.check, width) + "  " + c.detail + "\n"
            if let fix = c.fix { out += String(repeating: " ", count: 8 + width + 2) + "fix: " + fix + "\n" }
        }
        let counts = [CheckStatus.fail, .warn, .skip, .ok].compactMap { s -> String? in
            let n = checks.filter { $0.status == s }.count
            return n == 0 ? nil : "\(n) \(s.rawValue)"
        }
        out += "\n\(result == .fail ? "FAIL" : result == .warn ? "WARN" : "OK"): \(counts.joined(separator: ", "))\n"
        return out
    }

    private func pad(_ s: String, _ n: Int) -> String {
        s.count >= n ? s : s + String(repeating: " ", count: n - s.count)
    }
}
