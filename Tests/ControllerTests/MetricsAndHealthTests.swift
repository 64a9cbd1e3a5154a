import BatchCore
import Controller
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct MetricsTests {
    @Test func aPassShowsUpInTheExposition() {
        let metrics = ControllerMetrics(version: "9.9.9")
        var q = BatchQueue(metadata: ObjectMeta(name: "batch1"), spec: BatchQueueSpec(queue: "batch1", deployment: "celery-batch1"))
        q.spec.reservation = Reservation(holder: "alice", claimedAt: KubeTime(secondsSinceEpoch: 1_800_000_000),
                                         expiresAt: KubeTime(secondsSinceEpoch: 1_800_086_400), replicas: 5)
        q.status = BatchQueueStatus(phase: .running, depth: 1_200, inFlight: 8, busyWorkers: 3, replicas: 4, desiredReplicas: 5)
        var report = PassReport()
        report.redisProblem = "Redis could not be read"
        report.failures = [PassFailure(queue: "batch1", step: .status, error: FakeError(description: "500 Internal Server Error"))]
        metrics.record(report, queues: [q], duration: .milliseconds(3))
        metrics.setLeader(true)
        metrics.recordKubeRequest(verb: "PATCH", code: 200)
        metrics.recordKubeRequest(verb: "PATCH", code: 200)
        let text = metrics.exposition()
        for line in [
            #"batchctl_queue_depth{queue="batch1"} 1200.0"#,
            #"batchctl_queue_inflight{queue="batch1"} 8.0"#,
            #"batchctl_queue_busy_workers{queue="batch1"} 3.0"#,
            #"batchctl_replicas{queue="batch1",state="current"} 4.0"#,
            #"batchctl_replicas{queue="batch1",state="desired"} 5.0"#,
            #"batchctl_queue_phase{queue="batch1",phase="Running"} 1.0"#,
            #"batchctl_queue_phase{queue="batch1",phase="Free"} 0.0"#,
            #"batchctl_reservation_expiry_timestamp_seconds{queue="batch1"} 1800086400.0"#,
            #"batchctl_redis_errors_total 1"#,
            #"batchctl_reconcile_total{result="error"} 1"#,
            #"batchctl_reconcile_failures_total{step="status"} 1"#,
            #"batchctl_reconcile_failures_total{step="scale"} 0"#,
            #"batchctl_redis_up 0.0"#,
            #"batchctl_leader 1.0"#,
            #"batchctl_kube_requests_total{verb="PATCH",code="200"} 2"#,
            #"batchctl_build_info{version="9.9.9"} 1.0"#,
            #"batchctl_reconcile_duration_seconds_count 1"#,
        ] {
            #expect(text.contains(line + "\n"), "\(line)")
        }
    }
}

@Suite struct HealthServerTests {
    /// A plain HTTP/1.1 request over a loopback socket: the whole answer.
    func request(port: Int, _ raw: String) -> String {
        guard let fd = Loopback.connect(port, timeout: 5) else { return "connect failed" }
        defer { close(fd) }
        return Loopback.exchange(fd, raw)
    }

    @Test func servesEachPathAndRefusesTheRest() throws {
        let server = try HealthServer(host: "127.0.0.1", port: 0) { path in
            switch path {
            case "/healthz": return (200, "text/plain", "ok\n")
            case "/readyz": return (503, "text/plain", "waiting for the first cluster read\n")
            default: return (404, "text/plain", "not found\n")
            }
        }
        try server.start()
        defer { server.stop() }
        let ok = request(port: server.port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(ok.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(ok.hasSuffix("\r\n\r\nok\n"))
        #expect(request(port: server.port, "GET /readyz?verbose HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        #expect(request(port: server.port, "GET /nope HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        #expect(request(port: server.port, "POST /healthz HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"))
        let head = request(port: server.port, "HEAD /healthz HTTP/1.1\r\n\r\n")
        #expect(head.hasSuffix("Connection: close\r\n\r\n"))
    }

    @Test func aBadAddressIsAClearError() {
        #expect(throws: HealthServerError.self) { try HealthServer(host: "metrics.local", port: 9090) { _ in (200, "", "") } }
        do {
            _ = try HealthServer(host: "metrics.local", port: 9090) { _ in (200, "", "") }
        } catch {
            #expect(error.description == "cannot serve metrics and health on metrics.local:9090: not an IPv4 address; use for example 0.0.0.0:9090 or [::]:9090; choose another --metrics-addr")
        }
    }
}

/// Issue 19: a slow or hostile client cannot stop the health server (the kubelet's liveness probe has 1 s).
@Suite struct HealthServerSlowClientTests {
    /// A connected loopback socket with send/receive timeouts, or nil.
    func connectTo(_ port: Int, timeout seconds: Int = 1) -> Int32? { Loopback.connect(port, timeout: seconds) }

    /// `GET /healthz`: the status line, or nil when no answer came within 1 s.
    func healthz(_ port: Int) -> String? {
        guard let fd = connectTo(port) else { return nil }
        defer { close(fd) }
        let text = Loopback.exchange(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", maxReads: 20)
        return text.isEmpty ? nil : text.split(separator: "\r\n").first.map(String.init)
    }

    func server(maxConnections: Int = 64) throws -> HealthServer {
        let s = try HealthServer(host: "127.0.0.1", port: 0, maxConnections: maxConnections) { path in
            path == "/healthz" ? (200, "text/plain", "ok\n") : (404, "text/plain", "not found\n")
        }
        try s.start()
        return s
    }

    @Test("50 connections trickling one byte at a time: /healthz answers within 1 s throughout")
    func slowlorisDoesNotDelayProbes() throws {
        let s = try server()
        defer { s.stop() }
        var slow: [Int32?] = (0..<50).map { _ in connectTo(s.port) }
        defer { for fd in slow { if let fd { close(fd) } } }
        var worst = Duration.zero
        // About 6 s: longer than the per-connection deadline (2 s), so closed slow clients come back.
        for round in 0..<30 {
            for i in slow.indices {
                if let fd = slow[i], send(fd, "G", 1, Int32(MSG_NOSIGNAL)) == 1 { continue }
                if let fd = slow[i] { close(fd) }
                slow[i] = connectTo(s.port)   // closed by the server's deadline: a slowloris reconnects
            }
            let started = ContinuousClock.now
            let status = healthz(s.port)
            let took = ContinuousClock.now - started
            worst = max(worst, took)
            #expect(status == "HTTP/1.1 200 OK", "round \(round)")
            #expect(took < .seconds(1), "round \(round): /healthz took \(took)")
            usleep(200_000)   // the rounds' pace: the slow clients must hold their connections across time
        }
        #expect(slow.compactMap { $0 }.count >= 45)   // the slow clients really were connected
    }

    @Test("more silent connections than the limit: the oldest are closed and /healthz still answers")
    func silentConnectionsBeyondTheLimit() throws {
        let s = try server(maxConnections: 8)
        defer { s.stop() }
        let silent = (0..<20).compactMap { _ in connectTo(s.port) }
        defer { for fd in silent { close(fd) } }
        #expect(silent.count == 20)
        #expect(healthz(s.port) == "HTTP/1.1 200 OK")
        // The oldest silent ones were closed to make room: reading them ends (0) instead of timing out.
        var buf = [UInt8](repeating: 0, count: 16)
        let n = buf.withUnsafeMutableBytes { recv(silent[0], $0.baseAddress, $0.count, 0) }
        #expect(n == 0)
    }

    @Test("stop() returns after the server closed its sockets, so a later socket reusing a descriptor is never touched")
    func stopWaitsForTheServingThread() throws {
        let s = try server()
        let silent = try #require(connectTo(s.port))
        defer { close(silent) }
        #expect(healthz(s.port) == "HTTP/1.1 200 OK")   // accepted after `silent`, so `silent` is accepted too
        s.stop()
        // Already closed by the server when stop() returned: the end of stream is there without waiting.
        var buf = [UInt8](repeating: 0, count: 16)
        let n = buf.withUnsafeMutableBytes { recv(silent, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        #expect(n == 0)
    }

    @Test("a connection that never finishes its request is closed at the deadline")
    func deadlineFromAccept() throws {
        let s = try HealthServer(host: "127.0.0.1", port: 0, requestDeadline: .milliseconds(300)) { _ in (200, "text/plain", "ok\n") }
        try s.start()
        defer { s.stop() }
        let fd = try #require(connectTo(s.port, timeout: 5))
        defer { close(fd) }
        _ = send(fd, "GET /hea", 8, Int32(MSG_NOSIGNAL))
        var buf = [UInt8](repeating: 0, count: 16)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        #expect(n == 0)   // closed by the server, well before the 5 s receive timeout
    }
}

/// A raw HTTP/1.1 client over loopback sockets, for the health server's tests.
enum Loopback {
    /// A socket connected to 127.0.0.1:`port` with `seconds` send and receive timeouts, or nil.
    static func connect(_ port: Int, timeout seconds: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// Sends `raw` and reads until the server closes (or a read times out), at most `maxReads` reads.
    static func exchange(_ fd: Int32, _ raw: String, maxReads: Int = 100) -> String {
        _ = raw.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<maxReads {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
