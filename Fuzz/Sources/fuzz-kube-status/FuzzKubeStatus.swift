import FuzzSupport
import Glibc
import KubeClient

/// Error bodies (`KubeStatus.from(httpCode:body:)`, `KubeError.from`): any body, Status JSON or not, gives a
/// `KubeError` with a code, a reason and a printable message. The first two bytes choose the HTTP code.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKubeStatus(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let codes = [400, 401, 403, 404, 405, 409, 410, 415, 422, 429, 500, 502, 503, 504]
    let code = bytes.first.map { codes[Int($0) % codes.count] } ?? 500
    let body = Array(bytes.dropFirst())
    let status = KubeStatus.from(httpCode: code, body: body)
    require(status.code != nil && status.code != 0, "no code in \(status)")
    require(status.reason.map { !$0.isEmpty } ?? false, "no reason in \(status)")
    let error = KubeError.from(httpCode: code, body: body, retryAfter: .seconds(1))
    require(error.status != nil, "an HTTP error without a Status")
    _ = error.description
    _ = error.kind
    return 0
}

/// libFuzzer's driver over `fuzzKubeStatus`.
@main enum FuzzKubeStatus {
    static func main() {
        runFuzzer { data, size in data.map { fuzzKubeStatus($0, size) } ?? 0 }
    }
}
