import BatchCore
import FuzzSupport
import Foundation
import Glibc
import KubeClient

/// Watch streams: the bytes are split into lines by `LineSplitter` (in chunks whose size the first byte
/// chooses, as HTTP chunks would cut them), the lines must equal a plain split on newlines, and each line is
/// decoded as a watch event of `BatchQueue` and of `Deployment`, as `ResourceWatch` does: an event or a
/// `DecodingError`, never a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWatchEvent(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let first = bytes.first else { return 0 }
    let stream = bytes.dropFirst()
    let chunkSize = Int(first % 64) + 1

    var splitter = LineSplitter(maximumLineLength: 1 << 16)
    var lines: [[UInt8]] = []
    var start = stream.startIndex
    while start < stream.endIndex {
        let end = min(start + chunkSize, stream.endIndex)
        guard let got = splitter.feed(stream[start..<end]) else { return 0 }   // a line too long: reported, fine
        lines += got
        start = end
    }
    if let last = splitter.finish() { lines.append(last) }

    let expected = stream.split(separator: 10, omittingEmptySubsequences: true)
        .map { $0.last == 13 ? Array($0.dropLast()) : Array($0) }
        .filter { !$0.isEmpty }
    require(lines == expected, "LineSplitter with \(chunkSize)-byte chunks split differently")

    for line in lines {
        decode(WatchEvent<BatchQueue>.self, line)
        decode(WatchEvent<Deployment>.self, line)
    }
    return 0
}

private func decode<T: Decodable>(_ type: T.Type, _ line: [UInt8]) {
    do {
        _ = try JSONDecoder().decode(type, from: Data(line))
    } catch is DecodingError {
        return
    } catch {
        failed("decoding threw \(Swift.type(of: error)), not a DecodingError: \(error)")
    }
}

/// libFuzzer's driver over `fuzzWatchEvent`.
@main enum FuzzWatchEvent {
    static func main() {
        runFuzzer { data, size in data.map { fuzzWatchEvent($0, size) } ?? 0 }
    }
}
