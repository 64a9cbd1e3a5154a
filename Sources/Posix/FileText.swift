import MemberwiseInit
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a text file could not be read, in a few words ("no such file", "permission denied").
@MemberwiseInit(.public)
public struct FileTextError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}

/// Reads whole text files with POSIX calls: works for regular files, pipes and `/dev/stdin` alike, and
/// names the problem in plain words when it cannot.
public enum FileText {
    /// At most this many bytes are read (a configuration or kubeconfig is far smaller).
    public static let limit = 16 << 20

    /// The file's contents as UTF-8 text.
    public static func read(_ path: String) throws(FileTextError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileTextError(reason: reason(errno)) }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFDIR { throw FileTextError(reason: "is a directory") }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileTextError(reason: reason(errno))
            }
            bytes.append(contentsOf: chunk[0..<n])
            if bytes.count > limit { throw FileTextError(reason: "is larger than \(limit >> 20) MiB") }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw FileTextError(reason: "not UTF-8 text") }
        return text
    }

    static func reason(_ code: Int32) -> String {
        switch code {
        case ENOENT: return "no such file"
        case EACCES, EPERM: return "permission denied"
        case EISDIR: return "is a directory"
        case ENOTDIR: return "a part of the path is not a directory"
        default: return strerror(code).map { String(cString: $0) } ?? "error \(code)"
        }
    }
}
