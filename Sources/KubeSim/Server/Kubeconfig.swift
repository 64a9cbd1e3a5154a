import BatchCore
import Foundation

/// Writes the files clients need: `kubeconfig`, `ca.crt`, `users.json`, client certificates.
public enum ClientFiles {
    /// A kubeconfig with one context per user (named after the user), `current-context: admin`.
    public static func kubeconfig(server: String, caPEM: String?, users: [UserAccount], namespace: String) -> String {
        var lines = ["apiVersion: v1", "kind: Config", "preferences: {}", "current-context: \(users.contains { $0.name == "admin" } ? "admin" : users.first?.name ?? "")", "clusters:",
                     "- name: kubesim", "  cluster:", "    server: \(server)"]
        if let caPEM { lines.append("    certificate-authority-data: \(Data(caPEM.utf8).base64EncodedString())") }
        lines.append("users:")
        for u in users {
            lines += ["- name: \(u.name)", "  user:", "    token: \(u.token)"]
        }
        lines.append("contexts:")
        for u in users {
            lines += ["- name: \(u.name)", "  context:", "    cluster: kubesim", "    user: \(u.name)", "    namespace: \(namespace)"]
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `users.json`: `{"users": [{"name", "token", "groups"}]}`.
    public static func usersJSON(_ users: [UserAccount]) -> String {
        let list: [JSONValue] = users.map { u in
            ["name": .string(u.name), "token": .string(u.token), "groups": .array(u.groups.map { .string($0) })]
        }
        return JSONValue.object(["users": .array(list)]).compactString + "\n"
    }

    /// Writes a file with the given permissions.
    public static func write(_ text: String, to path: String, mode: Int = 0o644) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }
}
