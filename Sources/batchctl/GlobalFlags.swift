/// kubectl habits in one place: cluster options before the subcommand, and `kubectl batchctl`.
///
/// kubectl, helm and gh take their global flags on either side of the subcommand, and people type
/// `batchctl -n court-listener status` out of habit. ArgumentParser only reads a subcommand's options after its
/// name, so before parsing, batchctl moves the cluster options (`--kubeconfig`, `--context`, `-n/--namespace`,
/// `--config`, `-v/--verbose`) found between `batchctl` and a subcommand that has them to just after that
/// subcommand's name. Options typed after the subcommand come later, so they win on a repeat, as in kubectl.
/// Anything else before the subcommand (such as `--help`, or a cluster option before a command without them)
/// is left where it is, for ArgumentParser to report as it always did.
enum GlobalFlags {
    /// The cluster options that take a value.
    static let valued: Set<String> = ["--kubeconfig", "--context", "-n", "--namespace", "--config"]
    /// The cluster options that are flags.
    static let flags: Set<String> = ["-v", "--verbose"]

    /// The subcommands with the cluster options (`@OptionGroup var cluster: ClusterOptions` or `KubeconfigOptions`).
    static let clusterCommands: Set<String> = ["status", "claim", "scale", "extend", "release", "drain", "history", "describe", "doctor", "probe", "controller", "remind"]

    /// `arguments` (without the program name) with the cluster options before the subcommand moved after it.
    static func normalize(_ arguments: [String], clusterCommands: Set<String> = clusterCommands) -> [String] {
        var moved: [String] = []
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if flags.contains(a) {
                moved.append(a)
                i += 1
            } else if valued.contains(a), i + 1 < arguments.count {
                moved += [a, arguments[i + 1]]
                i += 2
            } else if let eq = a.firstIndex(of: "="), a.hasPrefix("--"), valued.contains(String(a[..<eq])) {
                moved.append(a)
                i += 1
            } else {
                break
            }
        }
        guard !moved.isEmpty, i < arguments.count, clusterCommands.contains(arguments[i]) else { return arguments }
        return [arguments[i]] + moved + arguments[(i + 1)...]
    }

    /// The name to show in help: `kubectl batchctl` when run through kubectl's plugin link `kubectl-batchctl`
    /// (kubectl runs the plugin by that file name), else `batchctl`.
    static func commandName(argv0: String = CommandLine.arguments.first ?? "batchctl") -> String {
        let base = argv0.split(separator: "/").last.map(String.init) ?? argv0
        return base == "kubectl-batchctl" ? "kubectl batchctl" : "batchctl"
    }
}
