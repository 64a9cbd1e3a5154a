/// A Redis (RESP2) reply, copied out of hiredis's reply object so it can cross threads.
public enum RedisValue: Sendable, Equatable {
    /// A bulk string (binary-safe).
    case string([UInt8])
    /// A status reply such as `OK` or `QUEUED`.
    case status(String)
    case integer(Int64)
    case array([RedisValue])
    /// A nil bulk string or array.
    case null
    /// An error reply such as `WRONGTYPE Operation against a key holding the wrong kind of value`.
    case error(String)

    /// The value as text (bulk strings decoded as UTF-8, statuses as they are), or nil.
    public var text: String? {
        switch self {
        case let .string(bytes): String(decoding: bytes, as: UTF8.self)
        case let .status(s): s
        default: nil
        }
    }

    /// The integer, if this is an integer reply.
    public var integer: Int64? {
        if case let .integer(n) = self { return n }
        return nil
    }

    /// The elements, if this is an array reply.
    public var array: [RedisValue]? {
        if case let .array(a) = self { return a }
        return nil
    }

    /// The error message, if this is an error reply.
    public var errorMessage: String? {
        if case let .error(e) = self { return e }
        return nil
    }
}
