import BatchTesting
import Foundation
import Testing

/// `batchctl status` on a terminal: run under util-linux `script`, which gives it a pseudo-terminal.
@Suite struct TerminalOutputTests {
    static let script = "/usr/bin/script"

    /// Runs batchctl on a pseudo-terminal and returns what it wrote there.
    func onTerminal(_ f: ClusterFixture, _ arguments: [String], noColor: String = "") throws -> String {
        let command = ([ClusterFixture.batchctl] + arguments + f.flags("alice")).map(Self.quoted).joined(separator: " ")
        var env = f.environment
        env["NO_COLOR"] = noColor
        let r = try Command.run(Self.script, ["-qec", command, "/dev/null"], environment: env, timeout: .seconds(60))
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        return r.stdout
    }

    static func quoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    @Test func depthIsColouredOnATerminalUnlessNoColorIsSet() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.script), "util-linux script is needed for a pseudo-terminal")
        let f = try ClusterFixture()
        for (name, depth) in [("batch1", 1200), ("batch2", 50)] {
            let p = try f.sim.curl("PATCH", "/apis/batchctl.dev/v1alpha1/namespaces/court-listener/batchqueues/\(name)/status",
                                   body: #"{"status":{"phase":"Running","depth":\#(depth),"inFlight":0,"readyReplicas":1,"desiredReplicas":1}}"#,
                                   contentType: "application/merge-patch+json")
            try #require(p.status == 200, "\(p.body)")
        }
        let coloured = try onTerminal(f, ["status"])
        #expect(coloured.contains("\u{1B}[31m1,200\u{1B}[0m"), "\(coloured.debugDescription)")
        #expect(coloured.contains("\u{1B}[32m50\u{1B}[0m"))
        let plain = try onTerminal(f, ["status"], noColor: "1")
        #expect(!plain.contains("\u{1B}["), "\(plain.debugDescription)")
        #expect(plain.contains("1,200"))

        let watched = try onTerminal(f, ["status", "--watch", "--watch-limit", "1"], noColor: "1")
        #expect(watched.hasPrefix("\u{1B}[H\u{1B}[2JQUEUE "), "\(watched.debugDescription)")
    }
}
