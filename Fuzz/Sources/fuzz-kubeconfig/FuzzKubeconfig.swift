import CFuzzDriver
import Glibc
import KubeClient

/// The kubeconfig loader (`ClusterConfig.parse(kubeconfig:)`, the in-memory twin of `ClusterConfig.load`):
/// any text either resolves to a cluster configuration or throws a `KubeconfigError` naming the file, and
/// never touches the file system. The in-memory file set holds one CA certificate, so that
/// `certificate-authority: /ca.crt` takes the file-reading path.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKubeconfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let options = KubeConfigOptions(environment: [:], serviceAccountDirectory: "/nonexistent", warn: { _ in })
    do {
        let config = try ClusterConfig.parse(kubeconfig: text, source: "fuzz-kubeconfig", options: options, files: files)
        require(config.server.hasPrefix("http"), "server \(config.server) is not an http(s) URL")
        _ = config.credentials.description
    } catch {
        require(error.description.hasPrefix("fuzz-kubeconfig"), "the error does not name the file: \(error)")
    }
    return 0
}

private let files: [String: [UInt8]] = [
    "/ca.crt": Array("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".utf8),
]

/// libFuzzer's driver over `fuzzKubeconfig` (see CFuzzDriver.h for why `main` is ours).
@main enum FuzzKubeconfig {
    static func main() {
        exit(cfuzz_run_driver(CommandLine.argc, CommandLine.unsafeArgv) { data, size in
            guard let data else { return 0 }
            return fuzzKubeconfig(data, size)
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
