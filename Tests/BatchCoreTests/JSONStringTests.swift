import BatchCore
import Testing

/// The one JSON string escaper (webhook payloads; KubeSim's objects with Go's HTML escaping).
@Suite struct JSONStringTests {
    @Test(arguments: [
        ("plain", #""plain""#, #""plain""#),
        ("say \"hi\"\\", #""say \"hi\"\\""#, #""say \"hi\"\\""#),
        ("a\nb\rc\td", #""a\nb\rc\td""#, #""a\nb\rc\td""#),
        ("\u{01}\u{1f}", #""\u0001\u001f""#, #""\u0001\u001f""#),
        ("<a&b>", #""<a&b>""#, #""\u003ca\u0026b\u003e""#),
        ("\u{2028}é", "\"\u{2028}é\"", #""\u2028é""#),
    ])
    func escapes(text: String, plain: String, html: String) {
        #expect(JSONString.quoted(text) == plain)
        #expect(JSONString.quoted(text, escapingHTML: true) == html)
    }
}
