/// Splits a byte stream into newline-terminated lines, reassembling lines that span chunks.
/// Watch streams are one JSON object per line; HTTP chunk boundaries are not event boundaries.
public struct LineSplitter: Sendable {
    private var buffer: [UInt8] = []
    /// Lines longer than this are an error (protects against a server that never sends a newline).
    public let maximumLineLength: Int

    public init(maximumLineLength: Int = 16 << 20) { self.maximumLineLength = maximumLineLength }

    /// Bytes held back, waiting for their newline.
    public var pendingCount: Int { buffer.count }

    /// Feeds a chunk and returns the complete lines in it (without `\n` or a trailing `\r`; empty lines dropped).
    /// Returns nil if a line grew past `maximumLineLength`.
    public mutating func feed<C: Collection>(_ chunk: C) -> [[UInt8]]? where C.Element == UInt8 {
        var lines: [[UInt8]] = []
        for byte in chunk {
            if byte == 10 {
                if buffer.last == 13 { buffer.removeLast() }
                if !buffer.isEmpty { lines.append(buffer) }
                buffer.removeAll(keepingCapacity: true)
            } else {
                buffer.append(byte)
                if buffer.count > maximumLineLength { return nil }
            }
        }
        return lines
    }

    /// The unterminated last line at end of stream, if any.
    public mutating func finish() -> [UInt8]? {
        defer { buffer.removeAll() }
        if buffer.last == 13 { buffer.removeLast() }
        return buffer.isEmpty ? nil : buffer
    }
}
