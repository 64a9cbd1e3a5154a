/// The access level of the initializer `@MemberwiseInit` writes.
public enum MemberwiseAccess {
    case `public`
    case `package`
    case `internal`
}

/// Writes the memberwise initializer of a struct at the access level given: Swift synthesizes one only
/// `internal`, so a public data type built in other modules would otherwise spell `self.x = x` once per field.
///
/// The initializer takes the stored instance properties in declaration order, each labelled by its name:
/// - a `var` with an initial value becomes a parameter with that value as its default, and a `var` of an
///   optional type without one defaults to `nil` (as in the synthesized initializer);
/// - a `let` with an initial value is not a parameter (it cannot be assigned again);
/// - a parameter of a function type is `@escaping`.
/// Computed and static properties are left out. Every stored property needs a written type.
///
/// ```swift
/// @MemberwiseInit(.public)
/// public struct Mark: Sendable {
///     public let line: Int
///     public var column: Int = 0
/// }
/// // public init(line: Int, column: Int = 0) { self.line = line; self.column = column }
/// ```
@attached(member, names: named(init))
public macro MemberwiseInit(_ access: MemberwiseAccess = .internal) =
    #externalMacro(module: "MemberwiseInitMacros", type: "MemberwiseInitMacro")
