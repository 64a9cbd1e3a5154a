import BatchCore
import Foundation
import Synchronization

/// Every API request the server answered (for tests: "no write happened", "which replicas were written").
public final class RequestLog: Sendable {
    /// One logged request.
    public struct Record: Sendable {
        public var time: String
        public var user: String
        public var verb: String
        public var method: String
        public var path: String
        public var query: String
        public var status: Int
        public var contentType: String
        public var requestContentType: String
        public var body: String?

        var json: JSONValue {
            var o: JSONValue = ["time": .string(time), "user": .string(user), "verb": .string(verb), "method": .string(method),
                                "path": .string(path), "query": .string(query), "status": .int(Int64(status)),
                                "contentType": .string(contentType), "requestContentType": .string(requestContentType)]
            if let body { o["body"] = .string(body) }
            return o
        }
    }

    private let records = Mutex<[Record]>([])
    /// Records kept at most (oldest dropped first).
    public let limit: Int

    /// Creates an empty log.
    public init(limit: Int = 100_000) { self.limit = limit }

    func append(request: APIRequest, info: RequestInfo, status: Int, contentType: String, at time: Date) {
        let isWrite = ["POST", "PUT", "PATCH", "DELETE"].contains(request.method)
        let record = Record(time: Timestamps.micro(time), user: request.user?.name ?? "", verb: info.verb, method: request.method,
                            path: request.path, query: request.rawQuery, status: status, contentType: contentType,
                            requestContentType: request.headers["content-type"] ?? "",
                            body: isWrite ? String(decoding: request.body, as: UTF8.self) : nil)
        records.withLock { r in
            r.append(record)
            if r.count > limit { r.removeFirst(r.count - limit) }
        }
    }

    /// All records, oldest first.
    public var all: [Record] { records.withLock { $0 } }

    /// Forgets all records.
    public func clear() { records.withLock { $0.removeAll() } }
}

/// `/kubesim/...`: inspection and control endpoints (admins only).
extension Simulator {
    func handleControl(_ request: APIRequest) async -> APIResponse {
        switch (request.method, request.path) {
        case ("GET", "/kubesim/requests"):
            return .json(["kind": "RequestLog", "items": .array(requestLog.all.map(\.json))])
        case ("DELETE", "/kubesim/requests"):
            requestLog.clear()
            return .json(["cleared": true])
        case ("GET", "/kubesim/stats"):
            return .json(["connections": .int(Int64(connections.load(ordering: .relaxed))),
                          "requests": .int(Int64(requestCount.load(ordering: .relaxed))),
                          "watches": .int(Int64(store.watchCount)),
                          "resourceVersion": .string(String(store.currentResourceVersion))])
        case ("GET", "/kubesim/faults"):
            return .json(["rules": .array(faults.current.map { r in (try? JSONValue.parse(Array((try? JSONEncoder().encode(r)) ?? Data()))) ?? .null })])
        case ("POST", "/kubesim/faults"), ("PUT", "/kubesim/faults"):
            do {
                let rules = try FaultRule.parse(spec: String(decoding: request.body, as: UTF8.self))
                faults.set(rules)
                return .json(["rules": .int(Int64(rules.count))])
            } catch {
                return .error(.badRequest("\(error)"))
            }
        case ("DELETE", "/kubesim/faults"):
            faults.set([])
            return .json(["rules": 0])
        case ("POST", "/kubesim/compact"):
            store.compact()
            return .json(["compactedThrough": .string(String(store.compactedThrough))])
        default:
            return .error(.pathNotFound())
        }
    }
}
