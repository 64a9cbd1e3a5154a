import BatchCore
import Foundation

/// Watches: newline-delimited compact JSON events, synthetic ADDED for unset/`0` versions, selector
/// transitions, bookmarks on request, a clean end at `timeoutSeconds`, 410 for too-old versions (reference §3.2).
extension Simulator {
    /// Thrown inside a watch stream to drop the connection (fault injection).
    struct DroppedWatch: Error {}

    enum WatchItem: Sendable {
        case change(StoreChange)
        case tick
    }

    func watchObjects(_ request: APIRequest, _ type: ResourceType, _ info: RequestInfo) throws -> APIResponse {
        let resourceType = type
        let (labels, fields) = try selectors(request, type)
        let rvText = request.query["resourceVersion"] ?? ""
        var fromVersion: Int64?
        if !rvText.isEmpty, rvText != "0" {
            guard let n = Int64(rvText) else { throw APIError.badRequest("invalid resource version: \(rvText)") }
            fromVersion = n
        }
        let sendInitial = request.flag("sendInitialEvents")
        if sendInitial { fromVersion = nil }
        let timeout = Double(request.query["timeoutSeconds"] ?? "").map { max(0, $0) } ?? 1800
        let bookmarks = request.flag("allowWatchBookmarks")
        let namespace = type.namespaced ? info.namespace : ""
        let drop = faults.watchDrop(path: request.path)
        let headers = [("Content-Type", "application/json"), ("Cache-Control", "no-cache, private")]

        let subscription: ObjectStore.Subscription
        do {
            subscription = try store.watch(type.storageKey, fromVersion: fromVersion)
        } catch {
            guard case .tooOld(let requested, let oldest) = error else { throw APIError.internalError("\(error)") }
            let status = APIError.expired("too old resource version: \(requested) (\(oldest))").status
            let line = JSONValue.object(["type": "ERROR", "object": status]).compactBytes + [10]
            return APIResponse(status: 200, headers: headers, body: .stream({ emit in try await emit(line) }))
        }

        let asTable = Tables.wanted(request)
        let includeObject = request.query["includeObject"] ?? "Metadata"
        let bookmarkInterval = configuration.bookmarkInterval
        let startVersion = fromVersion
        return APIResponse(status: 200, headers: headers, body: .stream({ [self] emit in
            defer { self.store.unwatch(subscription.id) }
            let started = ContinuousClock.now
            let deadline = started + .milliseconds(Int64(timeout * 1000))
            var lastSent = ContinuousClock.now
            var lastVersion = startVersion ?? subscription.startVersion
            var sentEvents = 0

            func send(_ type: String, _ original: JSONValue) async throws {
                if let after = drop?.dropWatchAfterEvents, sentEvents >= after { throw DroppedWatch() }
                var object = original
                if asTable, type != "BOOKMARK", type != "ERROR" {
                    let rv = Int64(original["metadata"]?["resourceVersion"]?.stringValue ?? "") ?? lastVersion
                    object = Tables.table(for: resourceType, objects: [original], resourceVersion: rv, includeObject: includeObject)
                }
                try await emit(JSONValue.object(["type": .string(type), "object": object]).compactBytes + [10])
                sentEvents += 1
                lastSent = ContinuousClock.now
            }
            func bookmark(initialEnd: Bool = false) async throws {
                var meta: JSONValue = ["resourceVersion": .string(String(lastVersion))]
                if initialEnd { meta["annotations"] = ["k8s.io/initial-events-end": "true"] }
                try await send("BOOKMARK", ["kind": .string(type.kind), "apiVersion": .string(type.apiVersion), "metadata": meta])
            }
            func visible(_ o: JSONValue) -> Bool {
                if !info.name.isEmpty, o["metadata"]?["name"]?.stringValue != info.name { return false }
                if !namespace.isEmpty, o["metadata"]?["namespace"]?.stringValue != namespace { return false }
                return self.matches(o, type: type, labels: labels, fields: fields)
            }
            func deliver(_ change: StoreChange) async throws {
                let new = self.view(change.object, as: type)
                let old = change.previous.map { self.view($0, as: type) }
                let newVisible = visible(new)
                let oldVisible = old.map(visible) ?? false
                switch change.kind {
                case .added:
                    if newVisible { try await send("ADDED", new) }
                case .modified:
                    if newVisible && oldVisible {
                        try await send("MODIFIED", new)
                    } else if newVisible {
                        try await send("ADDED", new)
                    } else if oldVisible, var gone = old {
                        gone[path: ["metadata", "resourceVersion"]] = .string(String(change.resourceVersion))
                        try await send("DELETED", gone)
                    }
                case .deleted:
                    if visible(new) { try await send("DELETED", new) }
                }
                lastVersion = max(lastVersion, change.resourceVersion)
            }

            if startVersion == nil {
                for o in subscription.snapshot.map({ self.view($0, as: type) }) where visible(o) { try await send("ADDED", o) }
                lastVersion = subscription.startVersion
                if sendInitial && bookmarks { try await bookmark(initialEnd: true) }
            } else {
                for change in subscription.backlog { try await deliver(change) }
                lastVersion = max(lastVersion, subscription.startVersion)
            }

            let (merged, continuation) = AsyncStream<WatchItem>.makeStream(bufferingPolicy: .unbounded)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await change in subscription.stream { continuation.yield(.change(change)) }
                    continuation.finish()
                }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .milliseconds(100))
                        continuation.yield(.tick)
                    }
                }
                defer { group.cancelAll() }
                for await item in merged {
                    let now = ContinuousClock.now
                    if let ms = drop?.dropWatchAfterMilliseconds, now >= started + .milliseconds(ms) { throw DroppedWatch() }
                    switch item {
                    case .change(let change):
                        // Live changes already covered by the snapshot/backlog are skipped.
                        if change.resourceVersion > lastVersion || change.resourceVersion > subscription.startVersion { try await deliver(change) }
                    case .tick:
                        if bookmarks, now - lastSent >= bookmarkInterval { try await bookmark() }
                    }
                    if now >= deadline {
                        if bookmarks { try await bookmark() }
                        break
                    }
                }
                continuation.finish()
            }
        }))
    }
}
