import MemberwiseInitMacros
import SwiftSyntaxMacroExpansion
import SwiftSyntaxMacrosGenericTestSupport
import Testing

/// The initializer `@MemberwiseInit` writes, as source text.
@Suite struct MemberwiseInitMacroTests {
    /// `attribute` on `struct S { members }` expands to the same struct with `initializer` added after its members.
    func expect(_ attribute: String, members: String, adds initializer: String, sourceLocation: SourceLocation = #_sourceLocation) {
        expand("\(attribute)\nstruct S {\n\(members)\n}", "struct S {\n\(members)\n\n\(initializer)\n}", sourceLocation: sourceLocation)
    }

    func expand(_ source: String, _ expected: String, diagnostics: [DiagnosticSpec] = [],
                sourceLocation: SourceLocation = #_sourceLocation) {
        assertMacroExpansion(source, expandedSource: expected, diagnostics: diagnostics,
                             macroSpecs: ["MemberwiseInit": MacroSpec(type: MemberwiseInitMacro.self)]) { failure in
            Issue.record(Comment(rawValue: failure.message), sourceLocation: sourceLocation)
        }
    }

    @Test func publicInitTakesTheStoredPropertiesInOrder() {
        expect("@MemberwiseInit(.public)", members: """
                public let line: Int
                public var column: Int
            """, adds: """
                public init(line: Int, column: Int) {
                    self.line = line
                    self.column = column
                }
            """)
    }

    @Test func defaultsComeFromVarInitialValuesAndOptionalVars() {
        expect("@MemberwiseInit(.package)", members: """
                var timeout: Int = 30
                var label: String?
                let fixed = 1
                let name: String?
                static var shared = 0
                var computed: Int { timeout * 2 }
                var observed: Int { didSet { } }
            """, adds: """
                package init(timeout: Int = 30, label: String? = nil, name: String?, observed: Int) {
                    self.timeout = timeout
                    self.label = label
                    self.name = name
                    self.observed = observed
                }
            """)
    }

    @Test func closuresEscapeAndSharedTypesApplyToEachBinding() {
        expect("@MemberwiseInit", members: """
                let a, b: Int
                let handler: @Sendable (String) -> Void
                let maybe: ((Int) -> Void)?
            """, adds: """
                init(a: Int, b: Int, handler: @escaping @Sendable (String) -> Void, maybe: ((Int) -> Void)?) {
                    self.a = a
                    self.b = b
                    self.handler = handler
                    self.maybe = maybe
                }
            """)
    }

    @Test func aClassOrAnUntypedPropertyIsAnErrorThatSaysWhatToDo() {
        expand("@MemberwiseInit(.public)\npublic final class Box {\n    let x: Int\n}",
               "public final class Box {\n    let x: Int\n}",
               diagnostics: [DiagnosticSpec(message: "@MemberwiseInit applies to structs only; write the initializer of a class or enum by hand", line: 1, column: 1)])
        expand("@MemberwiseInit(.public)\npublic struct Guess {\n    var x = 1\n}",
               "public struct Guess {\n    var x = 1\n}",
               diagnostics: [DiagnosticSpec(message: "@MemberwiseInit needs the type of 'x' written out; add ': Type' to its declaration", line: 3, column: 9)])
    }
}
