/// Why the demo stopped before the end of its scenario. Each message says what happened and what to do.
public enum DemoError: Error, CustomStringConvertible, Sendable {
    /// Something the demo needs is not there (the venv, `batchctl`, redis-server); the message names the fix.
    case missing(String)
    /// A component did not start.
    case startFailed(String)
    /// A step of the scenario did not happen in time.
    case timedOut(what: String, seconds: Int, hint: String)
    /// A command the demo ran (`batchctl claim`, the Celery producer) failed.
    case commandFailed(command: String, status: Int32, output: String)
    /// A check failed (a task completed twice or not at all).
    case checkFailed(String)
    /// SIGINT or SIGTERM.
    case interrupted(signal: Int32)

    public var description: String {
        switch self {
        case .missing(let message), .startFailed(let message), .checkFailed(let message):
            return message
        case .timedOut(let what, let seconds, let hint):
            return "\(what) did not happen within \(seconds) s. \(hint)"
        case .commandFailed(let command, let status, let output):
            let text = output.trimmingCharacters(in: .whitespacesAndNewlines)
            return "`\(command)` failed (exit status \(status))\(text.isEmpty ? "" : ":\n\(text)")"
        case .interrupted(let signal):
            return "interrupted by \(signal == 2 ? "SIGINT" : signal == 15 ? "SIGTERM" : "signal \(signal)")"
        }
    }
}
