import Foundation
import LocalProcesses
import MemberwiseInit

/// A `kubesim serve` child process on a free loopback port, for one test; stopped by its pid.
/// Uses the real executable (so it is tested too) and decodes its JSON itself (no KubeSim dependency).
public final class KubeSimServer: @unchecked Sendable {
    /// One request KubeSim answered (`GET /kubesim/requests`).
    @MemberwiseInit(.public)
    public struct RequestRecord: Sendable, Equatable, Decodable {
        public var time: String
        public var user: String = ""
        public var verb: String
        public var method: String
        public var path: String
        public var query: String = ""
        public var status: Int = 200
        public var contentType: String = ""
        public var requestContentType: String = ""
        public var body: String?

        enum CodingKeys: String, CodingKey { case time, user, verb, method, path, query, status, contentType, requestContentType, body }

        /// Reads one entry of `/kubesim/requests`; a missing field reads as empty (0 for `status`).
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            func text(_ key: CodingKeys) throws -> String { try c.decodeIfPresent(String.self, forKey: key) ?? "" }
            self.init(time: try text(.time), user: try text(.user), verb: try text(.verb), method: try text(.method),
                      path: try text(.path), query: try text(.query), status: try c.decodeIfPresent(Int.self, forKey: .status) ?? 0,
                      contentType: try text(.contentType), requestContentType: try text(.requestContentType),
                      body: try c.decodeIfPresent(String.self, forKey: .body))
        }

        /// Whether the request changed something (POST/PUT/PATCH/DELETE).
        public var isWrite: Bool { ["POST", "PUT", "PATCH", "DELETE"].contains(method) }
    }

    /// `https://127.0.0.1:PORT` (or `http://` with `http: true`).
    public let url: String
    /// The directory holding `kubeconfig`, `ca.crt`, `users.json`, `clients/`, `pods/`.
    public let directory: String
    /// Its kubeconfig (contexts admin, alice, bob).
    public var kubeconfigPath: String { "\(directory)/kubeconfig" }
    /// Its CA certificate.
    public var caPath: String { "\(directory)/ca.crt" }
    /// The port it listens on.
    public let port: Int
    /// The child process.
    public let process: ChildProcess
    private let temporary: TemporaryDirectory?
    private let tokens: [String: String]
    private let groups: [String: [String]]

    /// Starts `kubesim serve` and waits (bounded) until it serves.
    /// - Parameters:
    ///   - kubelet: run Deployments that name a command as local processes.
    ///   - http: plain HTTP instead of HTTPS.
    ///   - faults: a fault spec (`--faults`).
    ///   - extraArguments: more flags, such as `["--users", file, "--rbac", file, "--watch-history", "5"]`.
    ///   - directory: where to put its files (default: a temporary directory removed with this value).
    ///   - deployPolicies: enforce what deploy/ installs (`DeployPolicies`): its RBAC, its users and service
    ///     accounts, its CRDs and admission policies (applied before this returns). Every test of batchctl on
    ///     KubeSim uses it; only tests of KubeSim itself run without.
    ///   - extraUsers: more users (name, groups) with `deployPolicies`.
    public static func start(kubelet: Bool = false, http: Bool = false, faults: String? = nil, extraArguments: [String] = [],
                             directory: String? = nil, deployPolicies: Bool = false,
                             extraUsers: [(name: String, groups: [String])] = []) throws -> KubeSimServer {
        let server = try KubeSimServer(kubelet: kubelet, http: http, faults: faults, extraArguments: extraArguments, directory: directory,
                                       deployPolicies: deployPolicies, extraUsers: extraUsers)
        if deployPolicies {
            do { try DeployPolicies.install(on: server) } catch {
                server.stop()
                throw error
            }
        }
        return server
    }

    private init(kubelet: Bool, http: Bool, faults: String?, extraArguments: [String], directory: String?,
                 deployPolicies: Bool, extraUsers: [(name: String, groups: [String])]) throws {
        let temp: TemporaryDirectory? = directory == nil ? try TemporaryDirectory(prefix: "kubesim") : nil
        let dir = directory ?? temp!.path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        temporary = temp
        self.directory = dir
        let port = try FreePort.next()
        var args = ["serve", "--dir", dir, "--port", String(port)]
        if kubelet { args.append("--kubelet") }
        if http { args.append("--http") }
        if let faults { args += ["--faults", faults] }
        if deployPolicies { args += try DeployPolicies.serveArguments(directory: dir, extraUsers: extraUsers) }
        args += extraArguments
        let exe = ProjectPaths.product("kubesim")
        guard FileManager.default.isExecutableFile(atPath: exe) else { throw SupportError("\(exe) is not built; run `swift build`") }
        try? FileManager.default.removeItem(atPath: "\(dir)/address")   // a reused directory must not look ready
        let child = try ChildProcess(name: "kubesim-\(port)", executable: exe, arguments: args, logDirectory: dir)
        process = child
        let addressFile = "\(dir)/address"
        let ready = Wait.until(timeout: .seconds(20)) {
            !child.isRunning || (FreePort.isListening(port) && FileManager.default.fileExists(atPath: "\(dir)/users.json")
                && FileManager.default.fileExists(atPath: addressFile))
        }
        guard ready, child.isRunning,
              let address = try? String(contentsOfFile: addressFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) else {
            let log = child.stderr + child.stdout
            child.stop()
            throw SupportError("kubesim did not start on port \(port): \(log)")
        }
        url = address
        self.port = port
        struct Users: Decodable {
            struct User: Decodable {
                var name: String
                var token: String
                var groups: [String]?
            }
            var users: [User]
        }
        let text = try String(contentsOfFile: "\(dir)/users.json", encoding: .utf8)
        var tokens: [String: String] = [:]
        var groups: [String: [String]] = [:]
        for u in try decodeJSON(Users.self, from: text, what: "kubesim's users.json").users {
            tokens[u.name] = u.token
            groups[u.name] = u.groups ?? []
        }
        self.tokens = tokens
        self.groups = groups
    }

    /// The bearer token of `user` (`admin`, `alice`, `bob`, or one from `--users`); empty if unknown.
    public func token(for user: String) -> String { tokens[user] ?? "" }

    /// The groups of `user`.
    public func groups(of user: String) -> [String] { groups[user] ?? [] }

    /// Paths of the client certificate and key of a user (HTTPS only).
    public func clientCertificate(for user: String) -> (certificate: String, key: String) {
        ("\(directory)/clients/\(user).crt", "\(directory)/clients/\(user).key")
    }

    /// Runs `curl` against the server as `user` and returns (HTTP status, body, headers).
    /// - Parameters:
    ///   - method: HTTP method.
    ///   - path: path and query, such as `/api/v1/namespaces`.
    ///   - body: request body.
    ///   - contentType: request `Content-Type`.
    ///   - headers: more request headers (`Name: value`).
    ///   - user: whose token to send (nil: none).
    ///   - maxTime: curl's `--max-time`.
    public func curl(_ method: String, _ path: String, body: String? = nil, contentType: String = "application/json",
                     headers: [String] = [], user: String? = "admin", maxTime: Int = 30) throws -> CurlResult {
        let dir = try TemporaryDirectory(prefix: "curl")
        let headerFile = "\(dir.path)/headers"
        var args = ["-sS", "-X", method, "--max-time", String(maxTime), "-D", headerFile, "-o", "\(dir.path)/body",
                    "-w", "%{http_code}"]
        if url.hasPrefix("https") { args += ["--cacert", caPath] }
        if let user { args += ["-H", "Authorization: Bearer \(token(for: user))"] }
        for h in headers { args += ["-H", h] }
        var stdin: String?
        if let body {
            args += ["-H", "Content-Type: \(contentType)", "--data-binary", "@-"]
            stdin = body
        }
        args.append(url + path)
        let r = try Command.run("/usr/bin/curl", args, stdin: stdin, timeout: .seconds(maxTime + 10))
        let status = Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        let responseBody = (try? String(contentsOfFile: "\(dir.path)/body", encoding: .utf8)) ?? ""
        let headerText = (try? String(contentsOfFile: headerFile, encoding: .utf8)) ?? ""
        var headerMap: [String: String] = [:]
        for line in headerText.split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headerMap[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return CurlResult(status: status, body: responseBody, headers: headerMap, curlExitCode: r.status, stderr: r.stderr)
    }

    /// Runs `kubectl` (the one on PATH) with this server's kubeconfig and a private cache directory.
    public func kubectl(_ arguments: [String], context: String = "admin", stdin: String? = nil,
                        timeout: Duration = .seconds(60)) throws -> CommandResult {
        let kubectlPath = ["/usr/bin/kubectl", "/usr/local/bin/kubectl"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let kubectlPath else { throw SupportError("kubectl is not installed; run `make deps`") }
        let args = ["--kubeconfig", kubeconfigPath, "--cache-dir", "\(directory)/kubectl-cache", "--context", context] + arguments
        return try Command.run(kubectlPath, args, environment: ["HOME": directory], stdin: stdin, timeout: timeout)
    }

    /// Every request logged so far (oldest first).
    public func requests() throws -> [RequestRecord] {
        let r = try curl("GET", "/kubesim/requests")
        guard r.status == 200 else { throw SupportError("GET /kubesim/requests failed: \(r.status) \(r.body)") }
        return try decodeJSON(ObjectList<RequestRecord>.self, from: r.body, what: "GET /kubesim/requests").items
    }

    /// Forgets the request log.
    public func clearRequests() throws {
        let r = try curl("DELETE", "/kubesim/requests")
        guard r.status == 200 else { throw SupportError("DELETE /kubesim/requests failed: \(r.status) \(r.body)") }
    }

    /// Replaces the fault rules (a spec as for `--faults`; empty clears them).
    public func setFaults(_ spec: String) throws {
        let r = try curl("POST", "/kubesim/faults", body: spec, contentType: "text/plain")
        guard r.status == 200 else { throw SupportError("POST /kubesim/faults failed: \(r.status) \(r.body)") }
    }

    /// Whether the process still runs.
    public var isRunning: Bool { process.isRunning }

    /// Stops kubesim (SIGTERM; it stops its pods first), SIGKILL after `grace`.
    public func stop(grace: Duration = .seconds(30)) {
        process.stop(grace: grace)
    }

    deinit { stop() }
}

/// What `KubeSimServer.curl` returns.
public struct CurlResult: Sendable {
    /// HTTP status (0 if curl failed).
    public let status: Int
    /// Response body.
    public let body: String
    /// Response headers by lower-cased name.
    public let headers: [String: String]
    /// curl's exit code (28: timed out, 18: transfer cut short).
    public let curlExitCode: Int32
    /// curl's error output.
    public let stderr: String

    /// The body decoded as `T` (nil if it does not decode).
    public func decoded<T: Decodable>(_ type: T.Type) -> T? {
        try? JSONDecoder().decode(T.self, from: Data(body.utf8))
    }
}
