import BatchCore
import FoundationEssentials
import YAML

/// What `batchctl status -o json|yaml` prints: the BatchQueue objects as the Swift model encodes them, in a
/// list shaped like the API server's (`{"apiVersion":"batchctl.dev/v1alpha1","kind":"BatchQueueList","items":[...]}`).
/// Decoding the output gives back the same `BatchQueue` values.
public struct BatchQueueList: Sendable, Hashable, Codable {
    /// `batchctl.dev/v1alpha1`.
    public var apiVersion: String
    /// `BatchQueueList`.
    public var kind: String
    public var items: [BatchQueue]

    public init(items: [BatchQueue]) {
        apiVersion = BatchQueue.apiVersion
        kind = "BatchQueueList"
        self.items = items
    }

    /// Pretty JSON with sorted keys and a final newline.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    /// YAML, keys sorted as kubectl prints them (the JSON encoding, re-read and written as YAML).
    public func yaml() throws -> String {
        let value = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(self))
        return YAMLEmitter.emit(value.yamlNode)
    }
}
