import BatchTesting
import Foundation

/// The environment the controller image gives `batchctl`: the `ENV KEY=VALUE` lines of the Dockerfile's last
/// (runtime) stage. Benchmarks that measure the controller as it runs in a cluster start it with these, read from
/// the Dockerfile itself, so the figure is what a deployment of that image gets.
enum ImageEnvironment {
    /// The variables of the runtime stage of `dockerfile` (the project's Dockerfile by default).
    static func runtime(dockerfile: String = "\(ProjectPaths.root)/Dockerfile") throws -> [String: String] {
        guard let data = FileManager.default.contents(atPath: dockerfile) else {
            throw SupportError("cannot read \(dockerfile): the benchmark starts the controller with its runtime stage's ENV")
        }
        return try parse(String(decoding: data, as: UTF8.self), source: dockerfile)
    }

    /// The `ENV` variables after the last `FROM` of a Dockerfile's text; only the `ENV KEY=VALUE ...` form, one line
    /// per instruction, without quotes (the Dockerfile keeps to it, and anything else is refused rather than misread).
    static func parse(_ text: String, source: String) throws -> [String: String] {
        var environment: [String: String] = [:]
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let instruction = words.first?.uppercased() else { continue }
            if instruction == "FROM" { environment = [:]; continue }
            guard instruction == "ENV" else { continue }
            for word in words.dropFirst() {
                guard let equals = word.firstIndex(of: "="), equals != word.startIndex,
                      !word.contains("\""), !word.contains("'"), !word.hasSuffix("\\") else {
                    throw SupportError("\(source):\(index + 1): `\(line)` is not `ENV KEY=VALUE` without quotes or continuation; write it so, or teach ImageEnvironment.parse the form")
                }
                environment[String(word[..<equals])] = String(word[word.index(after: equals)...])
            }
        }
        return environment
    }
}
