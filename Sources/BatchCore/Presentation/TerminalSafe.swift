extension String {
    /// The text with everything a terminal would interpret replaced: C0 and C1 control characters and
    /// DEL (escape sequences start with ESC or the C1 CSI) become `?`, tab and line breaks become a space
    /// (a value stays on its line, a table keeps its columns), and Unicode bidirectional overrides and
    /// isolates (which can make text display in another order than it reads) are dropped. For user-supplied
    /// text (reasons, holders, notes, Event messages) before it is printed.
    public var terminalSafe: String {
        guard unicodeScalars.contains(where: Self.needsReplacing) else { return self }
        var out = String.UnicodeScalarView()
        for scalar in unicodeScalars {
            switch scalar.value {
            case 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x85, 0x2028, 0x2029: out.append(" ")
            case 0x00...0x1F, 0x7F...0x9F: out.append("?")
            case 0x202A...0x202E, 0x2066...0x2069, 0x200E, 0x200F, 0x061C: continue
            default: out.append(scalar)
            }
        }
        return String(out)
    }

    /// `terminalSafe` applied line by line: the line breaks of the text are kept, nothing else.
    public var terminalSafeLines: String {
        split(separator: "\n", omittingEmptySubsequences: false).map { String($0).terminalSafe }.joined(separator: "\n")
    }

    private static func needsReplacing(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069, 0x200E, 0x200F, 0x061C: return true
        default: return false
        }
    }
}
