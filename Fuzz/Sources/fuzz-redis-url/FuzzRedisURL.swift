import BatchCore
import FuzzSupport
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

/// libFuzzer's driver over `fuzzRedisURL`.
@main enum FuzzRedisURL {
    static func main() {
        runFuzzer { data, size in data.map { fuzzRedisURL($0, size) } ?? 0 }
    }
}
