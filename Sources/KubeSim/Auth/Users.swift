import BatchCore
import Foundation
import MemberwiseInit

/// An authenticated identity.
public struct UserInfo: Sendable, Equatable {
    public var name: String
    /// Stable per-name uid (empty for certificate users).
    public var uid: String
    /// Groups, including `system:authenticated`.
    public var groups: [String]

    /// Creates an identity; `system:authenticated` is added.
    public init(name: String, uid: String = "", groups: [String]) {
        self.name = name
        self.uid = uid
        var g = groups
        if !g.contains("system:authenticated") { g.append("system:authenticated") }
        self.groups = g
    }

    /// Whether the user may use KubeSim's test endpoints (`system:masters` or `batchctl:admins`).
    public var isAdmin: Bool { groups.contains("system:masters") || groups.contains("batchctl:admins") }
    /// Whether the user bypasses authorization, as `system:masters` does on a real cluster (`batchctl:admins` is
    /// only what the RBAC policy grants it).
    public var isSystemMaster: Bool { groups.contains("system:masters") }
}

/// A user the server knows, with the bearer token that authenticates it.
@MemberwiseInit(.public)
public struct UserAccount: Sendable, Equatable {
    public var name: String
    public var groups: [String]
    /// Bearer token.
    public var token: String

    /// A random token (hex, 32 bytes of entropy).
    public static func randomToken() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &g)) }.joined()
    }

    /// The default users: `admin` (groups `batchctl:admins`, `system:masters`), `alice` and `bob` (group
    /// `batchctl:users`, which deploy/base/rbac-users.yaml binds).
    public static func defaults() -> [UserAccount] {
        [
            UserAccount(name: "admin", groups: ["batchctl:admins", "system:masters"], token: randomToken()),
            UserAccount(name: "alice", groups: ["batchctl:users"], token: randomToken()),
            UserAccount(name: "bob", groups: ["batchctl:users"], token: randomToken()),
        ]
    }

    /// Loads a JSON or YAML list of `{name, groups, token?}` (tokens are generated when absent).
    public static func load(file path: String) throws -> [UserAccount] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let value = try JSONValue.parseYAML(text)
        let list = value.arrayValue ?? value["users"]?.arrayValue ?? []
        return try list.map { entry in
            guard let name = entry["name"]?.stringValue, !name.isEmpty else {
                throw ConfigurationError("\(path): every user needs a name")
            }
            let groups = (entry["groups"]?.arrayValue ?? []).compactMap(\.stringValue)
            return UserAccount(name: name, groups: groups, token: entry["token"]?.stringValue ?? randomToken())
        }
    }
}

/// Bad server configuration (flags, files).
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    /// What is wrong and where.
    public let description: String
    /// Creates the error.
    public init(_ description: String) { self.description = description }
}

/// Maps credentials to users: bearer tokens, and client certificates (CN = user, O = groups).
public struct Authenticator: Sendable {
    private let byToken: [String: UserAccount]

    /// Creates an authenticator for these accounts.
    public init(users: [UserAccount]) {
        var map: [String: UserAccount] = [:]
        for u in users { map[u.token] = u }
        byToken = map
    }

    /// The user for an `Authorization` header value, nil if absent or unknown.
    public func authenticate(authorization: String?) -> UserInfo? {
        guard let authorization else { return nil }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        guard let account = byToken[token] else { return nil }
        return UserInfo(name: account.name, uid: Self.uid(for: account.name), groups: account.groups)
    }

    /// The user of a verified client certificate.
    public func authenticate(certificateCommonName cn: String, organizations: [String]) -> UserInfo {
        UserInfo(name: cn, uid: "", groups: organizations)
    }

    /// A stable uid per user name.
    static func uid(for name: String) -> String {
        var hash: UInt64 = 14_695_981_039_346_656_037
        for b in name.utf8 { hash = (hash ^ UInt64(b)) &* 1_099_511_628_211 }
        let hex = String(format: "%016llx", hash)
        return "\(hex.prefix(8))-\(hex.dropFirst(8).prefix(4))-4\(hex.dropFirst(12).prefix(3))-8\(hex.prefix(3))-\(hex.suffix(12))"
    }
}
