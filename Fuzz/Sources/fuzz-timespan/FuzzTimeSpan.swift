import BatchCore
import FuzzSupport
import Glibc

/// Durations (`TimeSpan.parse`): any text either parses or throws a `TimeSpanError`; a parsed span prints
/// as text that parses back to the same span.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTimeSpan(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let span = try TimeSpan.parse(text)
        require(span.milliseconds >= 0, "negative span from \(text)")
        let again = try TimeSpan.parse(span.description)
        require(again == span, "\(text) → \(span) → \(again)")
    } catch {
        _ = error.description
    }
    return 0
}

/// libFuzzer's driver over `fuzzTimeSpan`.
@main enum FuzzTimeSpan {
    static func main() {
        runFuzzer { data, size in data.map { fuzzTimeSpan($0, size) } ?? 0 }
    }
}
