import BatchCore
import FuzzSupport
import Glibc

/// The configuration loader (`ConfigLoader.load`): any text either loads as a valid `BatchConfig` or throws a
/// `ConfigError` listing problems; a loaded configuration renders (`renderYAML`) as YAML that loads back to
/// the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfigLoader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let config: BatchConfig
    do {
        config = try ConfigLoader.load(yaml: text, source: "fuzz.yaml")
    } catch {
        require(!error.problems.isEmpty, "a ConfigError with no problems")
        _ = error.description
        return 0
    }
    let rendered = config.renderYAML(secrets: Secrets())
    do {
        let again = try ConfigLoader.load(yaml: rendered, source: "rendered.yaml")
        require(again == config, "the rendered configuration loads back differently:\n\(rendered)")
    } catch {
        failed("the rendered configuration does not load: \(error)\n\(rendered)")
    }
    return 0
}

/// libFuzzer's driver over `fuzzConfigLoader`.
@main enum FuzzConfigLoader {
    static func main() {
        runFuzzer { data, size in data.map { fuzzConfigLoader($0, size) } ?? 0 }
    }
}
