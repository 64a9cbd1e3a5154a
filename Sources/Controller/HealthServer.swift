import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A deliberately small HTTP/1.1 server for `/metrics`, `/healthz` and `/readyz`: one dedicated
/// thread, one short request at a time, `Connection: close`. It keeps the controller's memory
/// small (an event-loop server would cost more than the rest of the controller) and never touches
/// the Swift cooperative pool.
public final class HealthServer: Sendable {
    /// What each path answers: status code, content type and body.
    public typealias Handler = @Sendable (_ path: String) -> (status: Int, contentType: String, body: String)

    public let port: Int
    private let fd: Int32
    private let handler: Handler
    private let stopped = Atomic<Bool>(false)

    /// Binds `host:port` (port 0 picks a free one; read `port`).
    /// - Throws: `HealthServerError` naming the address and the reason (in use, not an address...).
    public init(host: String, port: Int, handler: @escaping Handler) throws(HealthServerError) {
        self.handler = handler
        let ipv6 = host.contains(":")
        let sock = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard sock >= 0 else { throw HealthServerError(address: "\(host):\(port)", reason: String(cString: strerror(errno))) }
        var one: Int32 = 1
        _ = setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var bound: Int32
        if ipv6 {
            var addr = sockaddr_in6()
            addr.sin6_family = sa_family_t(AF_INET6)
            addr.sin6_port = UInt16(port).bigEndian
            guard inet_pton(AF_INET6, host.trimmingCharacters(in: "[]"), &addr.sin6_addr) == 1 else {
                close(sock)
                throw HealthServerError(address: "\(host):\(port)", reason: "not an IPv6 address")
            }
            bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        } else {
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = UInt16(port).bigEndian
            guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else {
                close(sock)
                throw HealthServerError(address: "\(host):\(port)", reason: "not an IPv4 address; use for example 0.0.0.0:9090 or [::]:9090")
            }
            bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        }
        guard bound == 0, listen(sock, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            close(sock)
            throw HealthServerError(address: "\(host):\(port)", reason: reason)
        }
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(sock, $0, &len) } }
        let actual = withUnsafePointer(to: &storage) { p -> UInt16 in
            ipv6 ? p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_port }
                 : p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port }
        }
        self.port = Int(UInt16(bigEndian: actual))
        fd = sock
    }

    /// Serves on a dedicated thread until `stop()`.
    public func start() {
        var thread = pthread_t()
        let box = Unmanaged.passRetained(self)
        pthread_create(&thread, nil, { raw in
            let server = Unmanaged<HealthServer>.fromOpaque(raw!).takeRetainedValue()
            server.serve()
            return nil
        }, box.toOpaque())
        pthread_detach(thread)
    }

    /// Stops accepting; the thread ends.
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    private func serve() {
        while !stopped.load(ordering: .acquiring) {
            let client = accept(fd, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            handle(client)
            close(client)
        }
    }

    private func handle(_ client: Int32) {
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        _ = setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 2048)
        while request.count < 16_384 {
            let n = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            request += buffer[0..<n]
            if request.count >= 4, request.suffix(4) == [13, 10, 13, 10] { break }
        }
        let line = String(decoding: request.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self).split(separator: " ")
        let (status, type, body): (Int, String, String)
        if line.count >= 2, line[0] == "GET" || line[0] == "HEAD" {
            let path = String(line[1].split(separator: "?", maxSplits: 1).first ?? "")
            (status, type, body) = handler(path)
        } else {
            (status, type, body) = (405, "text/plain; charset=utf-8", "only GET is served here\n")
        }
        let reason = [200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"][status] ?? "Status"
        let bodyBytes = Array(body.utf8)
        let head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(type)\r\nContent-Length: \(bodyBytes.count)\r\nConnection: close\r\n\r\n"
        var out = Array(head.utf8)
        if line.first != "HEAD" { out += bodyBytes }
        var sent = 0
        while sent < out.count {
            let n = out.withUnsafeBytes { send(client, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }
}

/// The metrics address could not be served.
public struct HealthServerError: Error, CustomStringConvertible {
    public let address: String
    public let reason: String
    public var description: String { "cannot serve metrics and health on \(address): \(reason); choose another --metrics-addr" }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
