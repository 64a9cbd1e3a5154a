import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import MemberwiseInit
import NIOCore
import NIOSSL
import ServiceLifecycle

/// `kubesim serve`: the emulator behind HTTPS (or HTTP) on loopback, with its client files written to a directory.
@MemberwiseInit(.public)
public struct APIServer: Sendable {
    /// What to serve and how.
    public struct Options: Sendable {
        /// Where `kubeconfig`, `ca.crt`, `users.json`, `address` and pod logs go.
        public var directory: String
        /// 0: any free port.
        public var port = 0
        /// Plain HTTP instead of HTTPS.
        public var http = false
        /// Run Deployments that name a command as local processes.
        public var kubelet = false
        /// Fault rules (see `FaultRule`).
        public var faults: String?
        /// Extra users (JSON or YAML list of `{name, groups, token?}`).
        public var usersFile: String?
        /// RBAC documents; without them every authenticated user may do anything.
        public var rbacFile: String?
        /// The namespace every kubeconfig context uses (created at start).
        public var namespace = "court-listener"
        /// Simulator tunables (history, bookmarks, controller delay).
        public var simulator = Simulator.Configuration()
        /// Upper bound per pod for the grace period when kubesim itself stops.
        public var shutdownGrace: Duration = .seconds(10)
        /// Print "kubesim: serving URL" and "kubesim: stopped" on standard output (`kubesim demo` narrates instead).
        public var announce = true

        /// Options with defaults, writing to `directory`.
        public init(directory: String) { self.directory = directory }
    }

    /// What to serve.
    public let options: Options

    /// Runs until SIGTERM/SIGINT; then ends watches, stops pods (SIGTERM, grace, SIGKILL) and returns.
    public func run() async throws {
        try await makeServiceGroup(signals: true).group.run()
    }

    /// Builds the services (HTTP server, controllers) without running them.
    func makeServiceGroup(signals: Bool) throws -> (group: ServiceGroup, simulator: Simulator) {
        let dir = options.directory
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var users = UserAccount.defaults()
        if let file = options.usersFile {
            for extra in try UserAccount.load(file: file) {
                users.removeAll { $0.name == extra.name }
                users.append(extra)
            }
        }
        let authorizer = try options.rbacFile.map { try Authorizer.load(file: $0) } ?? .allowAll
        let faults = try options.faults.map { try FaultRule.parse(spec: $0) } ?? []
        var configuration = options.simulator
        configuration.kubeletEnabled = options.kubelet
        configuration.podLogDirectory = "\(dir)/pods"
        if !configuration.namespaces.contains(options.namespace) { configuration.namespaces.append(options.namespace) }
        let simulator = Simulator(configuration: configuration, users: users, authorizer: authorizer, faults: faults)

        var logger = Logger(label: "kubesim")
        logger.logLevel = .warning
        let serverBuilder: HTTPServerBuilder
        var caPEM: String?
        let counterSimulator = simulator
        let http1 = HTTPServerBuilder.http1(configuration: .init(additionalChannelHandlers: [ConnectionCounter(simulator: counterSimulator)]))
        if options.http {
            serverBuilder = http1
        } else {
            let ca = try CertificateAuthority()
            let pem = try ca.certificatePEM
            caPEM = pem
            try ClientFiles.write(pem, to: "\(dir)/ca.crt")
            let serving = try ca.issueServerCertificate()
            try ClientFiles.write(serving.certificatePEM, to: "\(dir)/server.crt")
            try ClientFiles.write(serving.privateKeyPEM, to: "\(dir)/server.key", mode: 0o600)
            try FileManager.default.createDirectory(atPath: "\(dir)/clients", withIntermediateDirectories: true)
            for u in users {
                let client = try ca.issueClientCertificate(user: u.name, groups: u.groups)
                try ClientFiles.write(client.certificatePEM, to: "\(dir)/clients/\(u.name).crt")
                try ClientFiles.write(client.privateKeyPEM, to: "\(dir)/clients/\(u.name).key", mode: 0o600)
            }
            var tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(serving.certificatePEM.utf8), format: .pem))],
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(serving.privateKeyPEM.utf8), format: .pem)))
            tls.certificateVerification = .optionalVerification
            tls.trustRoots = .certificates([try NIOSSLCertificate(bytes: Array(pem.utf8), format: .pem)])
            serverBuilder = try .tls(http1, tlsConfiguration: tls)
        }

        let scheme = options.http ? "http" : "https"
        let namespace = options.namespace
        let readyCA = caPEM
        let announce = options.announce
        let allUsers = users
        let app = Application(
            responder: SimResponder(simulator: simulator, tls: !options.http),
            server: serverBuilder,
            configuration: .init(address: .hostname("127.0.0.1", port: options.port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                let url = "\(scheme)://127.0.0.1:\(port)"
                do {
                    try ClientFiles.write(ClientFiles.kubeconfig(server: url, caPEM: readyCA, users: allUsers, namespace: namespace),
                                          to: "\(dir)/kubeconfig", mode: 0o600)
                    try ClientFiles.write(ClientFiles.usersJSON(allUsers), to: "\(dir)/users.json", mode: 0o600)
                    try ClientFiles.write(url + "\n", to: "\(dir)/address")
                    if announce { Console.say("kubesim: serving \(url) (kubeconfig: \(dir)/kubeconfig)") }
                } catch {
                    Console.say("kubesim: cannot write client files to \(dir): \(error)")
                }
            },
            logger: logger)

        let kubelet = options.kubelet ? Kubelet(simulator: simulator, directory: dir, shutdownGrace: options.shutdownGrace) : nil
        let background = BackgroundService(simulator: simulator, controller: DeploymentController(simulator: simulator, kubelet: kubelet),
                                           kubelet: kubelet, announce: options.announce)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: app), .init(service: background)],
            gracefulShutdownSignals: signals ? [.sigterm, .sigint] : [],
            logger: logger))
        return (group, simulator)
    }
}

/// The controllers; on graceful shutdown it ends watches and stops every pod before the HTTP server stops.
struct BackgroundService: Service {
    let simulator: Simulator
    let controller: DeploymentController
    let kubelet: Kubelet?
    let announce: Bool

    func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await controller.run() }
                if let kubelet {
                    let simulator = self.simulator
                    group.addTask { await kubelet.monitor { simulator.isShutDown } }
                }
            }
        } onGracefulShutdown: {
            simulator.shutdown()
        }
        await kubelet?.stopAll()
        if announce { Console.say("kubesim: stopped") }
    }
}

/// Line-buffered messages on stdout (flushed at once, so a parent process sees them).
enum Console {
    static func say(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        bytes.withUnsafeBytes { _ = write(1, $0.baseAddress, $0.count) }
    }
}

/// KubeSim running inside the current process (for tests that import `KubeSim`); `BatchTesting.KubeSimServer`
/// runs the `kubesim` executable instead.
public final class EmbeddedKubeSim: Sendable {
    /// `https://127.0.0.1:PORT`.
    public let url: String
    /// The directory with `kubeconfig`, `ca.crt`, `users.json`.
    public let directory: String
    /// The simulator, for direct inspection (store, request log).
    public let simulator: Simulator
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    private init(url: String, directory: String, simulator: Simulator, group: ServiceGroup, task: Task<Void, any Error>) {
        self.url = url
        self.directory = directory
        self.simulator = simulator
        self.group = group
        self.task = task
    }

    /// Starts serving and waits (at most 20 s) until the client files are written.
    public static func start(options: APIServer.Options) async throws -> EmbeddedKubeSim {
        try? FileManager.default.removeItem(atPath: "\(options.directory)/address")
        let (group, simulator) = try APIServer(options: options).makeServiceGroup(signals: false)
        let task = Task { try await group.run() }
        let addressFile = "\(options.directory)/address"
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOfFile: addressFile, encoding: .utf8), !text.isEmpty {
                return EmbeddedKubeSim(url: text.trimmingCharacters(in: .whitespacesAndNewlines), directory: options.directory,
                                       simulator: simulator, group: group, task: task)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        await group.triggerGracefulShutdown()
        _ = await task.result
        throw ConfigurationError("kubesim did not start within 20 s in \(options.directory)")
    }

    /// Graceful shutdown (watches end, pods stop), then waits for the services.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = await task.result
    }
}
