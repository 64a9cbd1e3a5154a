import SwiftCompilerPlugin
import SwiftDiagnostics
import SwiftSyntax
import SwiftSyntaxMacros

/// `@MemberwiseInit(.public)`: see the macro's declaration in the MemberwiseInit module.
public struct MemberwiseInitMacro: MemberMacro {
    public static func expansion(of node: AttributeSyntax, providingMembersOf declaration: some DeclGroupSyntax,
                                 conformingTo protocols: [TypeSyntax], in context: some MacroExpansionContext) throws -> [DeclSyntax] {
        guard declaration.is(StructDeclSyntax.self) else {
            context.diagnose(Diagnostic(node: node, message: Problem.notAStruct))
            return []
        }
        let access = accessLevel(of: node)
        var parameters: [String] = []
        var assignments: [String] = []
        for member in declaration.memberBlock.members {
            guard let variable = member.decl.as(VariableDeclSyntax.self), !isStatic(variable) else { continue }
            let isLet = variable.bindingSpecifier.tokenKind == .keyword(.let)
            for (index, binding) in variable.bindings.enumerated() {
                guard isStored(binding), let name = binding.pattern.as(IdentifierPatternSyntax.self)?.identifier.text else { continue }
                if isLet && binding.initializer != nil { continue }
                // `let a, b: Int`: a binding without a type takes the next written one.
                guard let type = variable.bindings.dropFirst(index).lazy.compactMap(\.typeAnnotation).first?.type else {
                    context.diagnose(Diagnostic(node: binding, message: Problem.noType(name)))
                    return []
                }
                var parameter = "\(name): \(escaping(type))"
                if let value = binding.initializer?.value {
                    parameter += " = \(value.trimmedDescription)"
                } else if !isLet && isOptional(type) {
                    parameter += " = nil"
                }
                parameters.append(parameter)
                assignments.append("self.\(name) = \(name)")
            }
        }
        let prefix = access.map { "\($0) " } ?? ""
        let body = assignments.isEmpty ? "" : "\n" + assignments.map { "    \($0)" }.joined(separator: "\n") + "\n"
        return ["\(raw: prefix)init(\(raw: parameters.joined(separator: ", "))) {\(raw: body)}"]
    }

    /// `public`, `package` or nil (internal) from the attribute's argument.
    static func accessLevel(of node: AttributeSyntax) -> String? {
        guard case .argumentList(let arguments) = node.arguments, let first = arguments.first,
              let member = first.expression.as(MemberAccessExprSyntax.self) else { return nil }
        switch member.declName.baseName.text {
        case "public": return "public"
        case "package": return "package"
        default: return nil
        }
    }

    static func isStatic(_ variable: VariableDeclSyntax) -> Bool {
        variable.modifiers.contains { $0.name.tokenKind == .keyword(.static) || $0.name.tokenKind == .keyword(.class) }
    }

    /// No accessors, or only observers (`willSet`/`didSet`).
    static func isStored(_ binding: PatternBindingSyntax) -> Bool {
        guard let accessors = binding.accessorBlock?.accessors else { return true }
        guard case .accessors(let list) = accessors else { return false }   // `{ expression }`: a getter
        return list.allSatisfy { [.keyword(.willSet), .keyword(.didSet)].contains($0.accessorSpecifier.tokenKind) }
    }

    static func isOptional(_ type: TypeSyntax) -> Bool {
        type.is(OptionalTypeSyntax.self) || type.is(ImplicitlyUnwrappedOptionalTypeSyntax.self)
            || type.as(IdentifierTypeSyntax.self)?.name.text == "Optional"
    }

    /// A function type (possibly with attributes such as `@Sendable`) gets `@escaping`.
    static func escaping(_ type: TypeSyntax) -> String {
        var bare = type
        if let attributed = type.as(AttributedTypeSyntax.self) { bare = attributed.baseType }
        return bare.is(FunctionTypeSyntax.self) ? "@escaping \(type.trimmedDescription)" : type.trimmedDescription
    }

    enum Problem: DiagnosticMessage {
        case notAStruct
        case noType(String)

        var message: String {
            switch self {
            case .notAStruct: "@MemberwiseInit applies to structs only; write the initializer of a class or enum by hand"
            case .noType(let name): "@MemberwiseInit needs the type of '\(name)' written out; add ': Type' to its declaration"
            }
        }
        var diagnosticID: MessageID { MessageID(domain: "MemberwiseInit", id: "\(self)") }
        var severity: DiagnosticSeverity { .error }
    }
}

@main
struct MemberwiseInitPlugin: CompilerPlugin {
    let providingMacros: [any Macro.Type] = [MemberwiseInitMacro.self]
}
