/// batchctl's version, printed by `--version` and sent in the `User-Agent`.
public enum BatchctlVersion {
    public static let current = "0.1.0"
}
