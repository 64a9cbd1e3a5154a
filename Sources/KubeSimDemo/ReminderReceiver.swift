import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The chat channel of the demo: a webhook on 127.0.0.1 that receives the controller's reminders (webhook
/// format `json`) and hands each to `onReminder` (which prints it).
final class ReminderReceiver: Sendable {
    /// One reminder as posted by `batchctl controller`.
    struct Reminder: Sendable {
        var reason: String
        var queue: String
        var message: String
    }

    let port: Int
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    /// The URL to give the controller (`BATCHCTL_WEBHOOK_URL`).
    var url: String { "http://127.0.0.1:\(port)/hooks/demo" }

    private init(port: Int, group: ServiceGroup, task: Task<Void, any Error>) {
        self.port = port
        self.group = group
        self.task = task
    }

    /// Starts listening on a free loopback port and waits (at most 20 s) until it does.
    static func start(onReminder: @escaping @Sendable (Reminder) -> Void) async throws -> ReminderReceiver {
        var logger = Logger(label: "kubesim-demo-webhook")
        logger.logLevel = .critical
        let router = Router()
        router.post("/hooks/demo") { request, _ -> HTTPResponse.Status in
            var request = request
            let buffer = try await request.collectBody(upTo: 1 << 20)
            let body = String(buffer: buffer)
            let object = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
            onReminder(Reminder(reason: object["reason"] as? String ?? "?", queue: object["queue"] as? String ?? "?",
                                message: object["message"] as? String ?? object["text"] as? String ?? body))
            return .ok
        }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in
                                  continuation.yield(channel.localAddress?.port ?? 0)
                                  continuation.finish()
                              },
                              logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let task = Task { try await group.run() }
        let timeout = Task {
            try await Task.sleep(for: .seconds(20))
            continuation.finish()
        }
        var port = 0
        for await p in ports {
            port = p
            break
        }
        timeout.cancel()
        guard port > 0 else {
            await group.triggerGracefulShutdown()
            _ = await task.result
            throw DemoError.startFailed("the webhook receiver did not start listening on 127.0.0.1 within 20 s")
        }
        return ReminderReceiver(port: port, group: group, task: task)
    }

    /// Stops listening.
    func stop() async {
        await group.triggerGracefulShutdown()
        _ = await task.result
    }
}
