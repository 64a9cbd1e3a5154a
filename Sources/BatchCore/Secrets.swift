/// A secret value and where it came from. Printing it never shows the value.

import MemberwiseInit

@MemberwiseInit(.public)
public struct Secret: Sendable, Equatable, CustomStringConvertible {
    /// The secret itself. Do not log it.
    public let value: String
    /// Where it came from, such as `REDIS_PASSWORD_FILE=/var/run/secrets/redis/password`.
    public let origin: String
    public var description: String { "*** (from \(origin))" }
}

/// The secrets batchctl needs, which come only from the environment or files named there, never from
/// the config file: the Redis password, the Redis Sentinels' password and the webhook URL.
@MemberwiseInit(.public)
public struct Secrets: Sendable, Equatable {
    /// From `REDIS_PASSWORD`, or the file named by `REDIS_PASSWORD_FILE`.
    public var redisPassword: Secret?
    /// The password the sentinels themselves require (their `requirepass`; kombu's
    /// `sentinel_kwargs = {'password': ...}`): from `REDIS_SENTINEL_PASSWORD`, or the file named by
    /// `REDIS_SENTINEL_PASSWORD_FILE`.
    public var sentinelPassword: Secret?
    /// From `BATCHCTL_WEBHOOK_URL`, or the file named by `BATCHCTL_WEBHOOK_URL_FILE`.
    public var webhookURL: Secret?

    /// Reads the secrets.
    /// - Parameters:
    ///   - environment: the process environment (injected, so tests need no `setenv`).
    ///   - readFile: reads a whole file; throws with a reason when it cannot.
    /// - Throws: `ConfigError` naming the variable and the fix when a variable is set twice, a file
    ///   cannot be read or is empty, or the webhook URL is not an http(s) URL.
    public static func resolve(environment: [String: String],
                               readFile: (String) throws -> String) throws(ConfigError) -> Secrets {
        var problems: [ConfigProblem] = []
        func read(_ name: String) -> Secret? {
            let direct = environment[name].flatMap { $0.isEmpty ? nil : $0 }
            let file = environment[name + "_FILE"].flatMap { $0.isEmpty ? nil : $0 }
            switch (direct, file) {
            case (nil, nil):
                return nil
            case (.some, .some):
                problems.append(ConfigProblem(path: name, message: "is set together with \(name)_FILE; set only one of them"))
                return nil
            case let (value?, nil):
                return Secret(value: value, origin: name)
            case let (nil, path?):
                let text: String
                do {
                    text = try readFile(path)
                } catch {
                    problems.append(ConfigProblem(path: name + "_FILE", message: "\(path) cannot be read: \(error); mount the secret there or unset \(name)_FILE"))
                    return nil
                }
                // Files written by `echo` or editors end with a newline that is not part of the secret.
                var value = Substring(text)
                while let last = value.last, last == "\n" || last == "\r" { value.removeLast() }
                guard !value.isEmpty else {
                    problems.append(ConfigProblem(path: name + "_FILE", message: "\(path) is empty"))
                    return nil
                }
                return Secret(value: String(value), origin: "\(name)_FILE=\(path)")
            }
        }
        let redis = read("REDIS_PASSWORD")
        let sentinel = read("REDIS_SENTINEL_PASSWORD")
        let webhook = read("BATCHCTL_WEBHOOK_URL")
        if let webhook, !(webhook.value.hasPrefix("https://") || webhook.value.hasPrefix("http://")) {
            problems.append(ConfigProblem(path: webhook.origin.hasSuffix("_URL") ? "BATCHCTL_WEBHOOK_URL" : "BATCHCTL_WEBHOOK_URL_FILE",
                                          message: "is not an http:// or https:// URL"))
        }
        if !problems.isEmpty { throw ConfigError(source: "the environment", problems: problems) }
        return Secrets(redisPassword: redis, sentinelPassword: sentinel, webhookURL: webhook)
    }
}
