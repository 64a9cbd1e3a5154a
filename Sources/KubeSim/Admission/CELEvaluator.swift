import BatchCore
import Foundation
import Posix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A long-lived CEL helper process (`python -u -c CELHelperScript.source`, with cel-python) that KubeSim talks
/// to over pipes: one JSON line per policy evaluation, one JSON line back. Started on first use, restarted
/// after it died or stopped answering; calls are serialized. Its stderr is KubeSim's, so a broken Python is loud.
final class CELEvaluator: Sendable {
    /// A failure of the helper itself (not a policy decision); admission fails closed on it.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private struct Child {
        var pid: pid_t
        var input: Int32
        var output: Int32
        var pending: [UInt8] = []
    }

    /// The Python interpreter (one with the `celpy` module, such as `.venv-tools/bin/python`).
    let python: String
    /// How long one evaluation may take (the first includes Python's start and compiling the expressions).
    let timeout: Duration
    private let child = Mutex<Child?>(nil)
    private static let maxAnswerBytes = 1 << 20

    init(python: String, timeout: Duration = .seconds(20)) {
        self.python = python
        self.timeout = timeout
    }

    /// Sends one request and returns the helper's answer.
    func evaluate(_ request: JSONValue) throws(Failure) -> JSONValue {
        try child.withLock { state throws(Failure) -> JSONValue in
            if state == nil { state = try Self.spawn(python) }
            guard var running = state else { throw Failure(description: "the CEL helper did not start") }
            do throws(Failure) {
                let answer = try Self.exchange(&running, line: request.compactBytes + [0x0A], timeout: timeout)
                state = running
                return answer
            } catch {
                Self.stop(running)
                state = nil
                throw error
            }
        }
    }

    /// Starts the helper and compiles a stored policy's expressions, so the first write it admits does not wait
    /// for Python to start (KubeSim calls this off the request path when a policy is written).
    func warmUp(_ policySpec: JSONValue) {
        var expressions: [JSONValue] = []
        for key in ["matchConditions", "variables", "validations"] {
            for item in policySpec[key]?.arrayValue ?? [] {
                if let e = item["expression"] { expressions.append(e) }
                if let e = item["messageExpression"] { expressions.append(e) }
            }
        }
        do { _ = try evaluate(["compile": .array(expressions)]) } catch {
            Simulator.warnOnce("the CEL helper (\(python)) did not start: \(error)")
        }
    }

    /// Stops the helper (closes its stdin, so it exits; SIGKILL if it does not within a second).
    func shutdown() {
        child.withLock { state in
            if let running = state { Self.stop(running) }
            state = nil
        }
    }

    deinit { shutdown() }

    private static func stop(_ running: Child) {
        close(running.input)
        close(running.output)
        for _ in 0..<20 {
            if ProcessSpawner.reap(running.pid) { return }
            usleep(50_000)
        }
        kill(running.pid, SIGKILL)
        _ = ProcessSpawner.reap(running.pid)
    }

    private static func spawn(_ python: String) throws(Failure) -> Child {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw Failure(description: "\(python) is not an executable Python (--cel-python): run `make tools-venv`, which installs cel-python in .venv-tools")
        }
        // A helper that died must not take KubeSim with it: writing to its pipe then fails with EPIPE instead.
        signal(SIGPIPE, SIG_IGN)
        var toChild: [Int32] = [0, 0], fromChild: [Int32] = [0, 0]
        guard pipe(&toChild) == 0 else { throw Failure(description: "pipe: \(String(cString: strerror(errno)))") }
        guard pipe(&fromChild) == 0 else {
            close(toChild[0]); close(toChild[1])
            throw Failure(description: "pipe: \(String(cString: strerror(errno)))")
        }
        for fd in toChild + fromChild { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let pid: pid_t
        do {
            pid = try ProcessSpawn.spawn([python, "-u", "-c", CELHelperScript.source],
                                         environment: ["PYTHONDONTWRITEBYTECODE=1", "PATH=/usr/bin:/bin"]) { actions in
                posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
                posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
            }
        } catch {
            for fd in toChild + fromChild { close(fd) }
            throw Failure(description: "\(error)")
        }
        close(toChild[0])
        close(fromChild[1])
        return Child(pid: pid, input: toChild[1], output: fromChild[0])
    }

    private static func exchange(_ running: inout Child, line: [UInt8], timeout: Duration) throws(Failure) -> JSONValue {
        var written = 0
        while written < line.count {
            let n = line[written...].withUnsafeBytes { write(running.input, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw Failure(description: "the CEL helper (\(running.pid)) stopped reading: \(String(cString: strerror(errno)))") }
            written += n
        }
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            if let newline = running.pending.firstIndex(of: 0x0A) {
                let answer = Array(running.pending[..<newline])
                running.pending.removeSubrange(...newline)
                do { return try JSONValue.parse(answer) } catch {
                    throw Failure(description: "the CEL helper answered something that is not JSON: \(String(decoding: answer.prefix(200), as: UTF8.self))")
                }
            }
            guard running.pending.count < maxAnswerBytes else { throw Failure(description: "the CEL helper's answer exceeds 1 MiB") }
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw Failure(description: "the CEL helper did not answer within \(timeout)") }
            var fds = pollfd(fd: running.output, events: Int16(POLLIN), revents: 0)
            let ms = Int32(clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
            let ready = poll(&fds, 1, ms)
            if ready < 0, errno == EINTR { continue }
            guard ready > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { read(running.output, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw Failure(description: "the CEL helper (\(running.pid)) exited; its error output is in kubesim's") }
            running.pending += buffer[..<n]
        }
    }
}
