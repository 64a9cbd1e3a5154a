#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes to file descriptor 2 without Foundation's `FileHandle` (and without C's `stderr`, a global Swift
/// 6 cannot prove safe).
public enum StandardError {
    /// Writes `text` as UTF-8, all of it (retrying short writes).
    public static func write(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        bytes.withUnsafeMutableBytes { buffer in
            while offset < buffer.count {
                #if canImport(Glibc)
                let n = Glibc.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                #else
                let n = Darwin.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                #endif
                if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
            }
        }
    }
}
