import BatchCore
import CFuzzDriver
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

/// libFuzzer's driver over `fuzzTimeSpan` (see CFuzzDriver.h for why `main` is ours).
@main enum FuzzTimeSpan {
    static func main() {
        exit(cfuzz_run_driver(CommandLine.argc, CommandLine.unsafeArgv) { data, size in
            guard let data else { return 0 }
            return fuzzTimeSpan(data, size)
        })
    }
}

/// Stops the run (libFuzzer saves the input) with `message` on standard error; `precondition` drops its
/// message in release builds.
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { failed(message()) }
}

func failed(_ message: String) -> Never {
    let line = "fuzz check failed: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    abort()
}
