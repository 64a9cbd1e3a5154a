import PropertyBased
import Testing
@testable import YAML

@Suite struct ComposerTests {
    @Test func composesMappingsSequencesAndScalarStylesWithTheirPositions() throws {
        let text = """
            name: batch1
            quoted: "two words"
            single: 'it''s'
            items:
              - 1
              - {a: b}
            flow: [x, y]
            """
        let root = try #require(try YAMLComposer.compose(text))
        guard case let .mapping(m) = root else { Issue.record("not a mapping"); return }
        #expect(m.map { $0.key.scalarText } == ["name", "quoted", "single", "items", "flow"])
        #expect(root["name"] == .scalar(Node.Scalar("batch1", style: .plain, mark: Mark(line: 1, column: 7))))
        #expect(root["quoted"]?.scalarValue?.style == .doubleQuoted)
        #expect(root["single"]?.scalarText == "it's")
        guard case let .sequence(items)? = root["items"] else { Issue.record("items is not a list"); return }
        #expect(items.count == 2)
        #expect(items[1]["a"]?.scalarText == "b")
        #expect(items.mark.line == 5)
        guard case let .sequence(flow)? = root["flow"] else { Issue.record("flow is not a list"); return }
        #expect(flow.style == .flow)
    }

    @Test(arguments: ["", "# only a comment\n", "\n\n"])
    func anEmptyTextHasNoDocument(text: String) throws {
        #expect(try YAMLComposer.compose(text) == nil)
    }

    @Test func nullIsThePlainSpellingsOnly() throws {
        let root = try #require(try YAMLComposer.compose("a: ~\nb: null\nc:\nd: \"null\"\ne: ''\n"))
        #expect(root["a"]?.isNull == true)
        #expect(root["b"]?.isNull == true)
        #expect(root["c"]?.isNull == true)
        #expect(root["d"]?.isNull == false)
        #expect(root["e"]?.isNull == false)
    }

    @Test func aDuplicateKeyIsRefusedWithBothPositions() {
        #expect(throws: YAMLError(problem: "duplicate key \"idleAfter\" (first at line 1, column 1); keep one of them",
                                  mark: Mark(line: 3, column: 1))) {
            try YAMLComposer.compose("idleAfter: 5m\npollInterval: 1s\nidleAfter: 10m\n")
        }
    }

    @Test func invalidYAMLNamesTheProblemAndPositionButNotTheText() throws {
        do {
            _ = try YAMLComposer.compose("token: abc\n  secret-token-value: [unclosed\n")
            Issue.record("no error")
        } catch {
            #expect(error.mark != nil)
            #expect(!error.description.contains("secret-token-value"))
            #expect(error.description.contains("at line"))
        }
    }

    @Test func aliasesAreExpanded() throws {
        let root = try #require(try YAMLComposer.compose("base: &b {cpu: 1}\nother: *b\n"))
        #expect(root["other"]?["cpu"] == root["base"]?["cpu"])
    }

    @Test func anUndefinedAliasIsAnError() {
        #expect(throws: YAMLError.self) { try YAMLComposer.compose("a: *nowhere\n") }
    }

    @Test func billionLaughsStopsAtTheNodeLimit() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...9 { text += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        #expect(throws: YAMLError.self) { try YAMLComposer.compose(text) }
    }

    @Test func deepNestingStopsAtTheDepthLimit() {
        let text = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(throws: YAMLError.self) { try YAMLComposer.compose(text) }
    }

    @Test func composeWantsOneDocumentAndComposeAllReadsThemAll() throws {
        let stream = "kind: A\n---\nkind: B\n"
        #expect(throws: YAMLError.self) { try YAMLComposer.compose(stream) }
        let docs = try YAMLComposer.composeAll(stream)
        #expect(docs.count == 2)
        #expect(docs[1]["kind"]?.scalarText == "B")
    }
}

@Suite struct ScalarResolutionTests {
    @Test(arguments: [
        ("42", Node.Scalar.Value.int(42)), ("-7", .int(-7)), ("0x1F", .int(31)), ("0o17", .int(15)),
        ("1.5", .double(1.5)), ("1e3", .double(1000)), ("true", .bool(true)), ("False", .bool(false)),
        ("~", .null), ("null", .null), ("", .null), ("yes", .string("yes")), ("12ab", .string("12ab")),
        ("batch1", .string("batch1")), ("1:30", .string("1:30")),
    ])
    func plainScalarsResolveWithTheCoreSchema(text: String, value: Node.Scalar.Value) {
        #expect(Node.Scalar(text, style: .plain).value == value)
    }

    @Test func quotedAndStrTaggedScalarsAreStrings() {
        #expect(Node.Scalar("42", style: .doubleQuoted).value == .string("42"))
        #expect(Node.Scalar("true", style: .plain, tag: "tag:yaml.org,2002:str").value == .string("true"))
    }
}

@Suite struct EmitterTests {
    @Test func writesBlockStyleLikeKubectl() {
        let node = Node.mapping([
            ("apiVersion", .string("batchctl.dev/v1alpha1")),
            ("items", .sequence([.mapping([("name", .string("batch1")), ("replicas", .plain("4"))])])),
            ("empty", .mapping([])),
            ("none", .sequence([])),
            ("flow", .sequence([.plain("1"), .plain("2")], flow: true)),
            ("nested", .mapping([("deep", .mapping([("x", .string("true"))]))])),
        ])
        #expect(YAMLEmitter.emit(node) == """
            apiVersion: batchctl.dev/v1alpha1
            items:
            - name: batch1
              replicas: 4
            empty: {}
            none: []
            flow: [1, 2]
            nested:
              deep:
                x: "true"

            """)
    }

    static let tricky = ["true", "yes", "123", "0x1F", "1.5", "", " lead", "trail ", "a: b", "#x", "x #y", "-", "- x",
                         "é", "line\nbreak", "tab\there", "quote\"s", "back\\slash", "null", "~", "[x]", "a,b", "{}",
                         "*alias", "&anchor", "!tag", "%", "@", "`", "it's", "🚀", "\u{7}", ":", "key:", "?"]

    @Test(arguments: tricky)
    func everyStringReadsBackAsItself(text: String) throws {
        let emitted = YAMLEmitter.emit(.mapping([("k", .string(text)), ("l", .sequence([.string(text)], flow: true))]))
        let back = try #require(try YAMLComposer.compose(emitted))
        guard case let .scalar(s)? = back["k"], case let .sequence(l)? = back["l"], case let .scalar(f)? = l.first else {
            Issue.record("shape changed: \(emitted)"); return
        }
        #expect(s.value == .string(text), "\(emitted)")
        #expect(f.value == .string(text), "\(emitted)")
    }

    // Found by the `yaml` fuzz target (compose → emit → compose).
    @Test(arguments: ["a:\n", "- a:\n  b: 1\n", "{a: , b: 1}\n", "- \n- x\n", "{k: \"a,b\"}\n", "[{a: \"x]y\"}]\n",
                      "? " + String(repeating: "k", count: 1100) + "\n: v\n",
                      "[{? " + String(repeating: "k", count: 1100) + " : v}]\n", "?\n- c\n", "? {a: b}\n: [x]\n",
                      "?  cluster:\n    (server:? ttps://126.0.0.1:64K#0t\n", " ...\n", "a: '---x'\n",
                      "env: [{value: ~}, ~, 0x1F, -.inf, .NaN, 1_000, True]\n"])
    func composedDocumentsEmitToTheSameTree(text: String) throws {
        let node = try #require(try YAMLComposer.compose(text))
        let emitted = YAMLEmitter.emit(node)
        let again = try #require(try YAMLComposer.compose(emitted), "\(emitted)")
        #expect(Self.values(again) == Self.values(node), "\(emitted)")
    }

    /// The tree with scalars resolved (styles and positions left out).
    static func values(_ node: Node) -> String {
        switch node {
        case let .scalar(s): "\(s.value)"
        case let .sequence(items): "[" + items.map(values).joined(separator: ",") + "]"
        case let .mapping(m): "{" + m.map { values($0.key) + ":" + values($0.value) }.joined(separator: ",") + "}"
        }
    }

    @Test func randomStringsReadBackAsThemselves() async {
        let chars = Gen.oneOf(Gen.int(in: 0...0x7F), Gen.int(in: 0x80...0x2FFF), Gen.int(in: 0x1F300...0x1F6FF))
            .map { Character(Unicode.Scalar(UInt32($0)) ?? " ") }
        await propertyCheck(count: 500, input: chars.array(of: 0...12)) { cs in
            let text = String(cs)
            let emitted = YAMLEmitter.emit(.mapping([(text.isEmpty ? "k" : text, .string(text))]))
            guard let back = try? YAMLComposer.compose(emitted), case let .mapping(m) = back, let entry = m.first,
                  case let .scalar(v) = entry.value else {
                Issue.record("did not read back: \(emitted.debugDescription)"); return
            }
            #expect(v.value == .string(text), "\(emitted.debugDescription)")
        }
    }
}
