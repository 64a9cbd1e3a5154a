import BatchCore
import CFuzzDriver
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

/// libFuzzer's driver over `fuzzConfigLoader` (see CFuzzDriver.h for why `main` is ours).
@main enum FuzzConfigLoader {
    static func main() {
        exit(cfuzz_run_driver(CommandLine.argc, CommandLine.unsafeArgv) { data, size in
            guard let data else { return 0 }
            return fuzzConfigLoader(data, size)
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
