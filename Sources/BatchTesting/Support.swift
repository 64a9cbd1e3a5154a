import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A directory removed when the value is released.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String
    public init(prefix: String = "batchctl") throws {
        var template = Array("\(NSTemporaryDirectory())/\(prefix).XXXXXX".utf8CString)
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw SupportError("mkdtemp failed: \(String(cString: strerror(errno)))")
        }
        path = String(cString: p)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

public struct SupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Loopback ports for test servers.
public enum FreePort {
    /// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
    public static func next() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SupportError("socket failed") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw SupportError("bind failed") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    public static func isListening(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}

/// Bounded polling: every loop in a test has a limit in time.
public enum Wait {
    /// Polls `condition` every `interval` until it holds or `timeout` passes; returns whether it held.
    @discardableResult
    public static func until(timeout: Duration, interval: Duration = .milliseconds(50),
                             _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            if try condition() { return true }
            if ContinuousClock.now >= deadline { return false }
            let ms = interval.components.seconds * 1000 + interval.components.attoseconds / 1_000_000_000_000_000
            usleep(UInt32(max(1, ms)) * 1000)
        }
    }

    /// Async flavour of `until`.
    @discardableResult
    public static func until(timeout: Duration, interval: Duration = .milliseconds(50),
                             _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            if try await condition() { return true }
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: interval)
        }
    }
}

/// Paths inside this repository (the package root, the built products, the Python venv).
public enum ProjectPaths {
    /// The package root, found from this file's location.
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }   // Sources/BatchTesting/Support.swift
        return url.path
    }()

    /// The directory holding the built executables (next to the running test bundle).
    public static let products: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().path
    }()

    /// A built executable of this package, such as `batchctl`: in `BATCHCTL_PRODUCTS_DIR` when set (a release
    /// `batchbench` drives the debug `batchctl` and `kubesim`; see `make bench`), else next to the running binary.
    public static func product(_ name: String) -> String {
        if let dir = ProcessInfo.processInfo.environment["BATCHCTL_PRODUCTS_DIR"], !dir.isEmpty { return "\(dir)/\(name)" }
        return "\(products)/\(name)"
    }

    /// The project's Python venv (`make deps` creates it).
    public static var venvPython: String { "\(root)/.venv/bin/python" }
    public static var venvBin: String { "\(root)/.venv/bin" }

    /// Test fixtures (Celery app, producers).
    public static var fixtures: String { "\(root)/Tests/Fixtures" }
}
