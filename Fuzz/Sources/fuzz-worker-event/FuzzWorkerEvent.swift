import CeleryRedis
import FuzzSupport
import Foundation
import Glibc

/// Celery worker events from the broker's pub/sub (anyone who can publish there can send them): the bytes
/// are decoded by `WorkerEvent.decode`, as `WorkerActivityListener` does, and fed to a `WorkerRegistry`.
/// Checked: a decoded event's numbers are within their clamps (`active`, `processed` in
/// `0...maxTaskCount`, `freq` in `freqRange`, a timestamp finite); the registry keeps only
/// `celery@<pod name>` hostnames and stays within its capacity; an error is a `WorkerEventError`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWorkerEvent(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var registry = WorkerRegistry(capacity: 4)
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    // The input may hold several payloads separated by newlines, so the registry sees a sequence.
    for (i, payload) in bytes.split(separator: 10, omittingEmptySubsequences: true).prefix(16).enumerated() {
        let event: WorkerEvent?
        do {
            event = try WorkerEvent.decode(Array(payload))
        } catch {
            require(!error.description.isEmpty, "an error without a message")
            continue
        }
        guard let event else { continue }
        require((0...WorkerEvent.maxTaskCount).contains(event.active), "active \(event.active) not clamped")
        require((0...WorkerEvent.maxTaskCount).contains(event.processed), "processed \(event.processed) not clamped")
        require(WorkerEvent.freqRange.contains(event.freq), "freq \(event.freq) not clamped")
        require(event.timestamp.map(\.isFinite) ?? true, "timestamp not finite")
        registry.apply(event, receivedAt: now + Double(i))
        require(registry.count <= 4, "registry over capacity")
        for w in registry.snapshot(now: now + Double(i)) {
            require(WorkerStatus.isPodHostname(w.hostname), "kept hostname \(w.hostname.debugDescription)")
            _ = w.deployment(among: ["celery-batch1", "celery"])
        }
    }
    return 0
}

/// libFuzzer's driver over `fuzzWorkerEvent`.
@main enum FuzzWorkerEvent {
    static func main() {
        runFuzzer { data, size in data.map { fuzzWorkerEvent($0, size) } ?? 0 }
    }
}
