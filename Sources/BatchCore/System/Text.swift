// Small text helpers the modules below the CLI use instead of Foundation's NSString methods, so that the
// controller's binary links FoundationEssentials only (see BENCHMARKS.md, controller RSS).

extension StringProtocol {
    /// The text followed by spaces up to `width` characters (unchanged when already as wide).
    public func padded(to width: Int) -> String {
        String(self) + String(repeating: " ", count: Swift.max(0, width - count))
    }
}

extension Double {
    /// The number with exactly `digits` decimals, rounded half away from zero: `3.14159.fixed(1)` is `"3.1"`.
    public func fixed(_ digits: Int) -> String {
        guard isFinite else { return "\(self)" }
        var scale = 1.0
        for _ in 0..<max(0, digits) { scale *= 10 }
        let scaled = (abs(self) * scale).rounded()
        guard scaled < 9e15 else { return "\(self)" }
        let whole = Int(scaled)
        let intPart = whole / Int(scale), frac = whole % Int(scale)
        let sign = self < 0 && whole != 0 ? "-" : ""
        guard digits > 0 else { return sign + "\(intPart)" }
        let fracText = String(frac)
        return sign + "\(intPart)." + String(repeating: "0", count: digits - fracText.count) + fracText
    }
}
