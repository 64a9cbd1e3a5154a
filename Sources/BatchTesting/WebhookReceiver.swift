import Foundation
import LocalProcesses

/// A webhook receiver on 127.0.0.1 (Tests/Fixtures/webhook_receiver.py, standard-library Python): it
/// records every POST body and can answer 500 to the first requests or answer slowly. Stopped by pid.
public final class WebhookReceiver: @unchecked Sendable {
    public let port: Int
    public let directory: TemporaryDirectory
    let process: ChildProcess
    let logPath: String

    /// `http://127.0.0.1:<port>/hooks/T000/B000/secret-token`: the path stands in for a token.
    public var url: String { "http://127.0.0.1:\(port)/hooks/T000/B000/secret-token" }

    /// - Parameters:
    ///   - failFirst: answer this many requests with HTTP 500 first.
    ///   - delaySeconds: wait this long before every answer.
    public init(failFirst: Int = 0, delaySeconds: Double = 0) throws {
        directory = try TemporaryDirectory(prefix: "webhook")
        port = try FreePort.next()
        logPath = directory.path + "/requests.jsonl"
        var arguments = [ProjectPaths.fixtures + "/webhook_receiver.py", "\(port)", logPath]
        if failFirst > 0 { arguments += ["--fail", "\(failFirst)"] }
        if delaySeconds > 0 { arguments += ["--delay", "\(delaySeconds)"] }
        process = try ChildProcess(name: "webhook", executable: "/usr/bin/python3", arguments: arguments,
                                   logDirectory: directory.path)
        let port = self.port
        let process = self.process
        guard Wait.until(timeout: .seconds(15), { !process.isRunning || FreePort.isListening(port) }), process.isRunning else {
            throw SupportError("the webhook receiver did not start: \(process.stderr)")
        }
    }

    /// The bodies received so far, oldest first.
    public var bodies: [String] {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return [] }
        struct Logged: Decodable { var body: String? }
        return text.split(separator: "\n").compactMap { line in
            (try? JSONDecoder().decode(Logged.self, from: Data(line.utf8)))?.body
        }
    }

    /// The received bodies that decode as `T`, oldest first.
    public func decoded<T: Decodable>(_ type: T.Type) -> [T] {
        bodies.compactMap { try? JSONDecoder().decode(T.self, from: Data($0.utf8)) }
    }

    /// The `text` of every received body that is a JSON object with one (Slack's and the json format's message).
    public var texts: [String] {
        struct Message: Decodable { var text: String? }
        return bodies.compactMap { (try? JSONDecoder().decode(Message.self, from: Data($0.utf8)))?.text }
    }

    public func stop() { process.stop(grace: .seconds(2)) }

    deinit { stop() }
}
