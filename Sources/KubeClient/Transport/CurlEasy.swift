import CCurl
import FoundationEssentials
import Synchronization

/// `curl_global_init`, run once before the first handle is created.
private let curlGlobalInit: Int = Int(curl_global_init(ccurl_global_default()).rawValue)

/// A cancellation flag shared between a waiting task and the curl thread. The XFERINFO callback checks it,
/// so a transfer stops within about a second even while the server is silent.
public final class CancelFlag: Sendable {
    private let value = Atomic<Bool>(false)
    public init() {}
    /// Asks the transfer to stop.
    public func cancel() { value.store(true, ordering: .relaxed) }
    public var isCancelled: Bool { value.load(ordering: .relaxed) }
}

/// Per-transfer state the C callbacks reach through `Unmanaged` userdata. Used only on the curl thread.
final class CurlSink {
    var status = 0
    var headers: [String: String] = [:]
    var body: [UInt8] = []
    var cancel: CancelFlag?
    /// When set, receives body bytes of 2xx answers instead of `body`; returning false aborts the transfer.
    var onData: ((UnsafeRawBufferPointer) -> Bool)?

    func reset() {
        status = 0
        headers = [:]
        body = []
        cancel = nil
        onData = nil
    }
}

private let curlWriteCallback: curl_write_callback = { ptr, size, nmemb, userdata in
    let n = size * nmemb
    guard let userdata else { return 0 }
    let sink = Unmanaged<CurlSink>.fromOpaque(userdata).takeUnretainedValue()
    if sink.cancel?.isCancelled == true { return 0 }
    guard let ptr, n > 0 else { return n }
    let buf = UnsafeRawBufferPointer(start: ptr, count: n)
    if let onData = sink.onData, (200..<300).contains(sink.status) { return onData(buf) ? n : 0 }
    if sink.body.count < 64 << 20 { sink.body.append(contentsOf: buf) }
    return n
}

private let curlHeaderCallback: curl_write_callback = { ptr, size, nmemb, userdata in
    let n = size * nmemb
    guard let userdata, let ptr else { return n }
    let sink = Unmanaged<CurlSink>.fromOpaque(userdata).takeUnretainedValue()
    let line = String(decoding: UnsafeRawBufferPointer(start: ptr, count: n), as: UTF8.self)
        .trimmingWhitespace()
    if line.hasPrefix("HTTP/") {
        // A new status line (after 100-continue or a redirect) starts a new header block.
        sink.headers = [:]
        let parts = line.split(separator: " ", maxSplits: 2)
        if parts.count >= 2, let code = Int(parts[1]) { sink.status = code }
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].lowercased()
        let value = line[line.index(after: colon)...].trimmingWhitespace()
        sink.headers[name] = value
    }
    return n
}

private let curlXferInfoCallback: curl_xferinfo_callback = { userdata, _, _, _, _ in
    guard let userdata else { return 0 }
    let sink = Unmanaged<CurlSink>.fromOpaque(userdata).takeUnretainedValue()
    return sink.cancel?.isCancelled == true ? 1 : 0
}

/// A libcurl failure while configuring or performing a transfer.
struct CurlFailure: Error {
    let code: CURLcode
    let detail: String
}

/// One libcurl easy handle. Not thread-safe: confined to the thread that created it. Reused across requests
/// (after `curl_easy_reset`, which keeps live connections and TLS sessions), so keep-alive works.
final class CurlEasy {
    let handle: UnsafeMutableRawPointer
    let sink = CurlSink()
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var connectToList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

    init() throws(CurlFailure) {
        _ = curlGlobalInit
        guard let h = curl_easy_init() else { throw CurlFailure(code: CURLE_FAILED_INIT, detail: "curl_easy_init failed") }
        handle = h
    }

    deinit {
        curl_easy_cleanup(handle)
        if let headerList { curl_slist_free_all(headerList) }
        if let connectToList { curl_slist_free_all(connectToList) }
        errorBuffer.deallocate()
    }

    /// Clears all options (connections stay cached) and installs the callbacks.
    func reset() throws(CurlFailure) {
        curl_easy_reset(handle)
        if let headerList { curl_slist_free_all(headerList) }
        headerList = nil
        if let connectToList { curl_slist_free_all(connectToList) }
        connectToList = nil
        sink.reset()
        errorBuffer[0] = 0
        let ud = Unmanaged.passUnretained(sink).toOpaque()
        try set(CURLOPT_NOSIGNAL, 1)
        try check(ccurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(errorBuffer)), "ERRORBUFFER")
        try check(ccurl_setopt_write_function(handle, curlWriteCallback), "WRITEFUNCTION")
        try check(ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, ud), "WRITEDATA")
        try check(ccurl_setopt_header_function(handle, curlHeaderCallback), "HEADERFUNCTION")
        try check(ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, ud), "HEADERDATA")
        try check(ccurl_setopt_xferinfo_function(handle, curlXferInfoCallback), "XFERINFOFUNCTION")
        try check(ccurl_setopt_pointer(handle, CURLOPT_XFERINFODATA, ud), "XFERINFODATA")
        try set(CURLOPT_NOPROGRESS, 0)
    }

    func set(_ option: CURLoption, _ value: Int) throws(CurlFailure) {
        try check(ccurl_setopt_long(handle, option, value), "option \(option.rawValue)")
    }

    func set(_ option: CURLoption, _ value: String) throws(CurlFailure) {
        try check(ccurl_setopt_string(handle, option, value), "option \(option.rawValue)")
    }

    /// Sets a `*_BLOB` option (libcurl copies the bytes).
    func setBlob(_ option: CURLoption, _ bytes: [UInt8]) throws(CurlFailure) {
        let rc = bytes.withUnsafeBytes { ccurl_setopt_blob(handle, option, $0.baseAddress, $0.count) }
        try check(rc, "blob option \(option.rawValue)")
    }

    /// Sets the request body (copied by libcurl: CURLOPT_COPYPOSTFIELDS).
    func setBody(_ bytes: [UInt8]) throws(CurlFailure) {
        try check(ccurl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count)), "POSTFIELDSIZE")
        var copy = bytes
        copy.append(0)
        let rc = copy.withUnsafeMutableBytes { ccurl_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, $0.baseAddress) }
        try check(rc, "COPYPOSTFIELDS")
    }

    /// Sets the request headers; the list lives until the next `reset`.
    func setHeaders(_ lines: [String]) throws(CurlFailure) {
        var list: UnsafeMutablePointer<curl_slist>?
        for line in lines {
            guard let next = curl_slist_append(list, line) else {
                if let list { curl_slist_free_all(list) }
                throw CurlFailure(code: CURLE_OUT_OF_MEMORY, detail: "curl_slist_append failed")
            }
            list = next
        }
        headerList = list
        try check(ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, list), "HTTPHEADER")
    }

    /// Sets CURLOPT_CONNECT_TO (`HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT`); the list lives until the next `reset`.
    func setConnectTo(_ entries: [String]) throws(CurlFailure) {
        var list: UnsafeMutablePointer<curl_slist>?
        for e in entries { list = curl_slist_append(list, e) }
        connectToList = list
        try check(ccurl_setopt_slist(handle, CURLOPT_CONNECT_TO, list), "CONNECT_TO")
    }

    /// Runs the transfer; returns CURLE_OK or the failure.
    func perform() -> CURLcode { curl_easy_perform(handle) }

    /// libcurl's detailed message for the last failure (the error buffer, else `curl_easy_strerror`).
    func errorDetail(_ code: CURLcode) -> String {
        let buffered = String(cString: errorBuffer)
        return buffered.isEmpty ? String(cString: curl_easy_strerror(code)) : buffered
    }

    var responseCode: Int {
        var code = 0
        _ = ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code)
        return code
    }

    /// The HTTP version libcurl used for the last transfer (CURL_HTTP_VERSION_*).
    var httpVersion: Int {
        var v = 0
        _ = ccurl_getinfo_long(handle, CURLINFO_HTTP_VERSION, &v)
        return v
    }

    /// Connections libcurl opened for the last transfer (0 when an existing one was reused).
    var newConnections: Int {
        var v = 0
        _ = ccurl_getinfo_long(handle, CURLINFO_NUM_CONNECTS, &v)
        return v
    }

    private func check(_ rc: CURLcode, _ what: String) throws(CurlFailure) {
        guard rc == CURLE_OK else {
            throw CurlFailure(code: rc, detail: "curl_easy_setopt \(what): \(String(cString: curl_easy_strerror(rc)))")
        }
    }
}
