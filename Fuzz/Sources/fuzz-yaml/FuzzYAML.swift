import FuzzSupport
import Glibc
import YAML

/// The YAML module (`YAMLComposer`, `YAMLEmitter`) both loaders stand on: any text either composes or throws
/// a `YAMLError`; a composed document, emitted, composes back to the same tree (same structure, same
/// resolved scalar values; styles and positions may differ).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzYAML(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let node: Node?
    do {
        node = try YAMLComposer.compose(text)
    } catch {
        _ = error.description
        return 0
    }
    guard let node else { return 0 }
    let emitted = YAMLEmitter.emit(node)
    do {
        guard let again = try YAMLComposer.compose(emitted) else { failed("emitted YAML holds no document:\n\(emitted)") }
        require(same(node, again), "emitted YAML composes differently:\n--- input\n\(text)\n--- emitted\n\(emitted)")
    } catch {
        failed("emitted YAML does not compose (\(error)):\n--- input\n\(text)\n--- emitted\n\(emitted)")
    }
    return 0
}

func same(_ a: Node, _ b: Node) -> Bool {
    switch (a, b) {
    case let (.scalar(x), .scalar(y)):
        switch (x.value, y.value) {
        case let (.double(p), .double(q)): return p == q || (p.isNaN && q.isNaN)
        case let (p, q): return p == q
        }
    case let (.sequence(x), .sequence(y)):
        return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
    case let (.mapping(x), .mapping(y)):
        return x.count == y.count && zip(x, y).allSatisfy { same($0.key, $1.key) && same($0.value, $1.value) }
    default:
        return false
    }
}

/// libFuzzer's driver over `fuzzYAML`.
@main enum FuzzYAML {
    static func main() {
        runFuzzer { data, size in data.map { fuzzYAML($0, size) } ?? 0 }
    }
}
