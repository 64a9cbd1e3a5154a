import BatchCore
import CFuzzDriver
import Glibc

/// Redis URLs (`RedisURL.parse`): any text either parses or throws a `RedisURLError`; a parsed URL prints
/// (`description`) with its password masked as `***`, as a URL that parses back to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRedisURL(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let url: RedisURL
    do {
        url = try RedisURL.parse(text)
    } catch {
        _ = error.description
        return 0
    }
    // The description masks the password as `***` and reads back as the same URL with that mask as password.
    let shown = url.description
    do {
        let again = try RedisURL.parse(shown)
        var expected = url
        if url.password != nil { expected.password = "***" }
        require(again == expected, "\(text) → \(shown) → \(again)")
    } catch {
        failed("\(text) prints as \(shown), which does not parse: \(error)")
    }
    return 0
}

/// libFuzzer's driver over `fuzzRedisURL` (see CFuzzDriver.h for why `main` is ours).
@main enum FuzzRedisURL {
    static func main() {
        exit(cfuzz_run_driver(CommandLine.argc, CommandLine.unsafeArgv) { data, size in
            guard let data else { return 0 }
            return fuzzRedisURL(data, size)
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
