import CCurl
#if canImport(Glibc)
import Glibc
#endif

// `rssfloor URL CA-FILE`: the smallest program with batchctl's fixed parts (the Swift runtime and standard
// library, linked statically, and libcurl with OpenSSL over HTTPS), doing one GET a second until killed.
// `batchbench --only rss-floor` measures its resident memory: what any Swift program that talks to the
// Kubernetes API over libcurl costs on this machine, before any of batchctl's own code.
let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    print("usage: rssfloor URL CA-FILE")
    exit(2)
}
guard curl_global_init(ccurl_global_default()) == CURLE_OK, let handle = curl_easy_init() else {
    print("rssfloor: libcurl could not start")
    exit(1)
}
_ = ccurl_setopt_string(handle, CURLOPT_URL, arguments[1])
_ = ccurl_setopt_string(handle, CURLOPT_CAINFO, arguments[2])
_ = ccurl_setopt_write_function(handle) { _, size, count, _ in size * count }   // discard the body
while true {
    let code = curl_easy_perform(handle)
    if code != CURLE_OK { print("rssfloor: \(String(cString: curl_easy_strerror(code)))") }
    sleep(1)
}
