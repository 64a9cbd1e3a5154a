import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A directory removed when the value is released.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String
    /// Creates `<parent>/<prefix>.XXXXXX` (`parent`: the system's temporary directory when nil).
    public init(prefix: String = "batchctl", in parent: String? = nil) throws {
        var base = parent ?? NSTemporaryDirectory()
        while base.count > 1 && base.hasSuffix("/") { base.removeLast() }
        var template = Array("\(base)/\(prefix).XXXXXX".utf8CString)
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw SupportError("mkdtemp failed: \(String(cString: strerror(errno)))")
        }
        path = String(cString: p)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A failure of a local helper (a process that did not start, a port that could not be bound), with a message
/// that names it.
public struct SupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
