import FuzzSupport
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

/// libFuzzer's driver over `fuzzKubeconfig`.
@main enum FuzzKubeconfig {
    static func main() {
        runFuzzer { data, size in data.map { fuzzKubeconfig($0, size) } ?? 0 }
    }
}
