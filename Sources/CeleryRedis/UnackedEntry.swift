/// The routing part of one value of kombu's `unacked` hash, the JSON array
/// `[message, exchange, routing_key]`. Pure.
///
/// The message (first element) is a whole task envelope, body included, so it is skipped with a
/// byte scanner rather than decoded: only the two short strings at the end are read.
public struct UnackedEntry: Sendable, Equatable {
    /// The exchange the message was published to; empty for Celery's normal routing.
    public var exchange: String
    /// The routing key; the queue name when `exchange` is empty.
    public var routingKey: String

    /// Parses an `unacked` value, or returns nil when it is not `[<any JSON>, "<string>", "<string>"]`.
    ///
    /// The two strings are found from the end (a quote inside a JSON string is always escaped, so the
    /// first unescaped quote before a closing quote opens that string), which skips the message
    /// without reading it; when that shape is not found the whole value is scanned from the start.
    public static func parse(_ bytes: [UInt8]) -> UnackedEntry? {
        bytes.withUnsafeBufferPointer { buf in
            if let fast = parseFromEnd(buf) { return fast }
            var s = JSONScanner(buf)
            guard s.expect(UInt8(ascii: "[")), s.skipValue(), s.expect(UInt8(ascii: ",")),
                  let exchange = s.string(), s.expect(UInt8(ascii: ",")),
                  let routingKey = s.string(), s.expect(UInt8(ascii: "]")) else { return nil }
            return UnackedEntry(exchange: exchange, routingKey: routingKey)
        }
    }
}

extension UnackedEntry {
    /// `[..., "exchange", "routing_key"]` read backwards; nil if the tail does not have that shape.
    static func parseFromEnd(_ b: UnsafeBufferPointer<UInt8>) -> UnackedEntry? {
        func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 }
        var i = b.count - 1
        func skipSpaceBack() { while i >= 0 && isSpace(b[i]) { i -= 1 } }
        /// Moves `i` from a closing quote to before the opening quote; returns the string's range.
        func stringBack() -> Range<Int>? {
            guard i >= 0, b[i] == UInt8(ascii: "\"") else { return nil }
            let close = i
            i -= 1
            while i >= 0 {
                if b[i] == UInt8(ascii: "\"") {
                    var slashes = 0
                    var k = i - 1
                    while k >= 0 && b[k] == UInt8(ascii: "\\") {
                        slashes += 1
                        k -= 1
                    }
                    if slashes % 2 == 0 {
                        let open = i
                        i -= 1
                        return open..<(close + 1)
                    }
                }
                i -= 1
            }
            return nil
        }
        guard b.count > 2, b[0] == UInt8(ascii: "[") else { return nil }
        skipSpaceBack()
        guard i >= 0, b[i] == UInt8(ascii: "]") else { return nil }
        i -= 1
        skipSpaceBack()
        guard let rk = stringBack() else { return nil }
        skipSpaceBack()
        guard i >= 0, b[i] == UInt8(ascii: ",") else { return nil }
        i -= 1
        skipSpaceBack()
        guard let ex = stringBack() else { return nil }
        skipSpaceBack()
        guard i > 0, b[i] == UInt8(ascii: ",") else { return nil }
        var exScanner = JSONScanner(UnsafeBufferPointer(rebasing: b[ex]))
        var rkScanner = JSONScanner(UnsafeBufferPointer(rebasing: b[rk]))
        guard let exchange = exScanner.string(), let routingKey = rkScanner.string() else { return nil }
        return UnackedEntry(exchange: exchange, routingKey: routingKey)
    }
}

/// A minimal forward JSON scanner: skips any value, reads strings (with escapes).
struct JSONScanner {
    let b: UnsafeBufferPointer<UInt8>
    var i = 0

    init(_ b: UnsafeBufferPointer<UInt8>) { self.b = b }

    mutating func skipSpace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    /// Skips white space, then consumes `byte` if it is next.
    mutating func expect(_ byte: UInt8) -> Bool {
        skipSpace()
        guard i < b.count, b[i] == byte else { return false }
        i += 1
        return true
    }

    /// Skips one JSON value of any kind (objects and arrays by bracket depth, strings honouring escapes).
    mutating func skipValue() -> Bool {
        skipSpace()
        guard i < b.count else { return false }
        switch b[i] {
        case UInt8(ascii: "\""):
            return skipString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while i < b.count {
                switch b[i] {
                case UInt8(ascii: "\""):
                    guard skipString() else { return false }
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 {
                        i += 1
                        return true
                    }
                default:
                    break
                }
                i += 1
            }
            return false
        default:
            // A number, true, false or null: up to the next delimiter.
            let start = i
            while i < b.count, b[i] != UInt8(ascii: ","), b[i] != UInt8(ascii: "]"), b[i] != UInt8(ascii: "}"),
                  b[i] != 0x20, b[i] != 0x0A, b[i] != 0x0D, b[i] != 0x09 { i += 1 }
            return i > start
        }
    }

    private mutating func skipString() -> Bool {
        i += 1   // opening quote
        while i < b.count {
            if b[i] == UInt8(ascii: "\\") {
                i += 2
            } else if b[i] == UInt8(ascii: "\"") {
                i += 1
                return true
            } else {
                i += 1
            }
        }
        return false
    }

    /// Reads a JSON string, decoding escapes (including `\uXXXX` and surrogate pairs).
    mutating func string() -> String? {
        skipSpace()
        guard i < b.count, b[i] == UInt8(ascii: "\"") else { return nil }
        i += 1
        var out: [UInt8] = []
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            if c != UInt8(ascii: "\\") {
                out.append(c)
                i += 1
                continue
            }
            guard i + 1 < b.count else { return nil }
            let e = b[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard var code = hex4() else { return nil }
                if (0xD800..<0xDC00).contains(code) {
                    // A high surrogate must be followed by \u and a low surrogate.
                    guard i + 1 < b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else { return nil }
                    i += 2
                    guard let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(code) else { return nil }
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                return nil
            }
        }
        return nil
    }

    private mutating func hex4() -> UInt32? {
        guard i + 4 <= b.count else { return nil }
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = b[i + k]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            v = v << 4 | UInt32(d)
        }
        i += 4
        return v
    }
}
