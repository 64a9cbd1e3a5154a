import Posix
import Synchronization
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// A deliberately small HTTP/1.1 server for `/metrics`, `/healthz` and `/readyz`: one dedicated
/// thread multiplexing its connections with `poll(2)`, `Connection: close`. It keeps the controller's
/// memory small (an event-loop server would cost more than the rest of the controller) and never touches
/// the Swift cooperative pool.
///
/// A slow or hostile client cannot stop it: every connection is closed `requestDeadline` after it was
/// accepted whatever it sends (a client trickling bytes gains nothing), at most `maxConnections` are
/// open (when full, the oldest is closed to admit a new one, so a probe is never queued behind slow
/// clients), requests are read and answered as their bytes arrive, never blocking on one client, and
/// accept errors (out of file descriptors, for example) are logged and retried.
public final class HealthServer: Sendable {
    /// What each path answers: status code, content type and body.
    public typealias Handler = @Sendable (_ path: String) -> (status: Int, contentType: String, body: String)

    public let port: Int
    private let fd: Int32
    private let handler: Handler
    private let log: @Sendable (String) -> Void
    private let stopped = Atomic<Bool>(false)
    private let running = Atomic<Bool>(false)
    /// Signalled by the serving thread when it has closed every socket, the listening one included.
    private let ended = DispatchSemaphore(value: 0)
    /// How long a connection may take, from accept to the last byte of the answer.
    public let requestDeadline: Duration
    /// Connections open at most.
    public let maxConnections: Int

    /// Binds `host:port` (port 0 picks a free one; read `port`).
    /// - Parameters:
    ///   - requestDeadline: a connection is closed this long after accept, answered or not.
    ///   - maxConnections: connections open at once; a new one beyond it closes the oldest.
    ///   - log: where accept errors are reported (they are retried).
    /// - Throws: `HealthServerError` naming the address and the reason (in use, not an address...).
    public init(host: String, port: Int, requestDeadline: Duration = .seconds(2), maxConnections: Int = 64,
                log: @escaping @Sendable (String) -> Void = { _ in }, handler: @escaping Handler) throws(HealthServerError) {
        self.handler = handler
        self.log = log
        self.requestDeadline = requestDeadline
        self.maxConnections = max(1, maxConnections)
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
        guard bound == 0, listen(sock, 128) == 0, fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK) == 0 else {
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
    /// - Throws: `ThreadStartError` when no thread can be started (out of threads or memory).
    public func start() throws(ThreadStartError) {
        running.store(true, ordering: .releasing)
        do {
            try OSThread.detach(name: "health server") { self.serve() }
        } catch {
            running.store(false, ordering: .releasing)
            throw error
        }
    }

    /// Stops accepting and waits (at most 2 s) until the serving thread has closed its sockets.
    ///
    /// The thread closes the listening socket itself: closing it here while the thread may still be
    /// between `poll` and `accept` would let it accept on whatever socket next reuses the descriptor.
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        shutdown(fd, Int32(SHUT_RDWR))   // wakes the thread's poll
        if running.load(ordering: .acquiring) {
            _ = ended.wait(timeout: .now() + .seconds(2))
        } else {
            close(fd)
        }
    }

    /// One open connection: what it sent so far, and the answer once there is one.
    private struct Connection {
        let fd: Int32
        let deadline: ContinuousClock.Instant
        var request: [UInt8] = []
        var answer: [UInt8]?
        var sent = 0
    }

    private func serve() {
        var connections: [Connection] = []
        var buffer = [UInt8](repeating: 0, count: 2048)
        var acceptFailures = 0
        defer {
            for c in connections { close(c.fd) }
            close(fd)
            ended.signal()
        }
        while !stopped.load(ordering: .acquiring) {
            let now = ContinuousClock.now
            // Past their deadline: closed, answered or not.
            connections.removeAll { c in
                guard c.deadline <= now else { return false }
                close(c.fd)
                return true
            }
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
            fds += connections.map { pollfd(fd: $0.fd, events: Int16($0.answer == nil ? POLLIN : POLLOUT), revents: 0) }
            let nearest = connections.map(\.deadline).min().map { max(.zero, $0 - now) } ?? .milliseconds(200)
            let wait = min(nearest, .milliseconds(200)).components
            let timeout = Int32(wait.seconds * 1000 + wait.attoseconds / 1_000_000_000_000_000) + 1
            let ready = poll(&fds, nfds_t(fds.count), timeout)
            if ready < 0 {
                if errno == EINTR { continue }
                if stopped.load(ordering: .acquiring) { return }
                log("health server: poll failed: \(String(cString: strerror(errno))); retrying")
                usleep(100_000)
                continue
            }
            // Existing connections first (their indexes in `fds` are 1...).
            var finished: [Int] = []
            for i in connections.indices where fds[i + 1].revents != 0 {
                if step(&connections[i], revents: fds[i + 1].revents, buffer: &buffer) { finished.append(i) }
            }
            for i in finished.reversed() {
                close(connections[i].fd)
                connections.remove(at: i)
            }
            if fds[0].revents & Int16(POLLIN) != 0 {
                acceptAll(into: &connections, failures: &acceptFailures)
            }
        }
    }

    /// Accepts every pending connection; when full, the oldest open one is closed to make room.
    private func acceptAll(into connections: inout [Connection], failures: inout Int) {
        for _ in 0..<256 {
            let client = accept(fd, nil, nil)
            if client < 0 {
                let e = errno
                if e == EAGAIN || e == EWOULDBLOCK || e == EINTR || stopped.load(ordering: .acquiring) { return }
                failures += 1
                if failures <= 10 || failures % 1000 == 0 {
                    log("health server: accept failed (\(failures) so far): \(String(cString: strerror(e))); retrying")
                }
                usleep(e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM ? 100_000 : 10_000)
                return
            }
            failures = 0
            _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
            if connections.count >= maxConnections {
                close(connections.removeFirst().fd)
            }
            connections.append(Connection(fd: client, deadline: .now + requestDeadline))
        }
    }

    /// Reads what arrived or sends what is pending; returns true when the connection is done.
    private func step(_ c: inout Connection, revents: Int16, buffer: inout [UInt8]) -> Bool {
        if c.answer == nil {
            if revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                let n = buffer.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, 0) }
                if n < 0 { return errno != EAGAIN && errno != EINTR }
                if n > 0 { c.request += buffer[0..<n] }
                let complete = c.request.count >= 4 && Self.headerEnd(c.request)
                guard n == 0 || complete || c.request.count >= 16_384 else { return false }
                if n == 0 && c.request.isEmpty { return true }
                c.answer = answer(to: c.request)
            } else {
                return revents & Int16(POLLNVAL) != 0
            }
        }
        guard let out = c.answer else { return true }
        while c.sent < out.count {
            let n = out.withUnsafeBytes { send(c.fd, $0.baseAddress! + c.sent, $0.count - c.sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { return false }
            if n <= 0 { return true }
            c.sent += n
        }
        return true
    }

    static func headerEnd(_ request: [UInt8]) -> Bool {
        // Only the tail can hold a new end of headers: recv appends at most 2048 bytes.
        let from = max(0, request.count - 2048 - 3)
        var i = from
        while i + 3 < request.count {
            if request[i] == 13, request[i + 1] == 10, request[i + 2] == 13, request[i + 3] == 10 { return true }
            i += 1
        }
        return false
    }

    /// The whole answer (head and body) to a request.
    private func answer(to request: [UInt8]) -> [UInt8] {
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
        return out
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
