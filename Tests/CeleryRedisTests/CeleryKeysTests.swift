@testable import BatchCore
@testable import CeleryRedis
import Testing

@Suite struct CeleryKeysTests {
    static let sep = "\u{06}\u{16}"
    static let allSteps = CeleryLayout(globalKeyPrefix: "", separator: ":", prioritySteps: Array(0...9))

    @Test(arguments: [
        (CeleryLayout.default, "batch0", ["batch0", "batch0\(sep)3", "batch0\(sep)6", "batch0\(sep)9"]),
        (allSteps, "q", ["q", "q:1", "q:2", "q:3", "q:4", "q:5", "q:6", "q:7", "q:8", "q:9"]),
        (CeleryLayout(globalKeyPrefix: "pfx:", separator: sep, prioritySteps: [0, 3, 6, 9]), "b",
         ["pfx:b", "pfx:b\(sep)3", "pfx:b\(sep)6", "pfx:b\(sep)9"]),
        (CeleryLayout(globalKeyPrefix: "", separator: ":", prioritySteps: [0, 0, 5]), "b", ["b", "b:5"]),
    ])
    func queueKeysFollowKombu(layout: CeleryLayout, queue: String, expected: [String]) {
        #expect(CeleryKeys(layout: layout).queueKeys(queue) == expected)
    }

    /// kombu's `_q_for_pri`: clamp to 0...9, then the largest step not above the priority.
    @Test(arguments: [
        (nil, "q"), (0, "q"), (2, "q"), (3, "q\(sep)3"), (5, "q\(sep)3"), (6, "q\(sep)6"), (8, "q\(sep)6"),
        (9, "q\(sep)9"), (15, "q\(sep)9"), (255, "q\(sep)9"), (-1, "q"),
    ] as [(Int?, String)])
    func messagePriorityPicksTheKombuList(priority: Int?, expected: String) {
        #expect(CeleryKeys(layout: .default).key(for: "q", priority: priority) == expected)
    }

    @Test func unackedBindingAndEventKeysCarryThePrefix() {
        let keys = CeleryKeys(layout: CeleryLayout(globalKeyPrefix: "pfx:", separator: Self.sep, prioritySteps: [0]))
        #expect(keys.unackedKey == "pfx:unacked")
        #expect(keys.bindingKey(exchange: "jobs") == "pfx:_kombu.binding.jobs")
        #expect(keys.workerEventChannel(database: 3, event: "heartbeat") == "pfx:/3.celeryev/worker.heartbeat")
        #expect(CeleryKeys(layout: .default).workerEventChannel(database: 0, event: "heartbeat") == "/0.celeryev/worker.heartbeat")
    }

    @Test(arguments: [
        ("batch1\(sep)\(sep)batch1", sep, Binding(routingKey: "batch1", pattern: "", queue: "batch1")),
        ("jobs.#\(sep)^jobs\\..*?$\(sep)batch6", sep, Binding(routingKey: "jobs.#", pattern: "^jobs\\..*?$", queue: "batch6")),
        ("rk5::batch5", ":", Binding(routingKey: "rk5", pattern: "", queue: "batch5")),
        ("too\(sep)many\(sep)parts\(sep)here", sep, nil),
        ("no separator", sep, nil),
    ] as [(String, String, Binding?)])
    func bindingMembersSplitIntoThree(member: String, separator: String, expected: Binding?) {
        let keys = CeleryKeys(layout: CeleryLayout(globalKeyPrefix: "", separator: separator, prioritySteps: [0]))
        #expect(keys.parseBinding(member) == expected)
    }

    static let bindings = [
        Binding(routingKey: "rk5", pattern: "", queue: "batch5"),
        Binding(routingKey: "jobs.#", pattern: "^jobs\\..*?$", queue: "batch6"),
        Binding(routingKey: "rk5", pattern: "", queue: "batch7"),
    ]

    @Test(arguments: [
        ("", "batch1", ["batch1"]),
        ("jobs", "rk5", ["batch5", "batch7"]),
        ("jobs", "jobs.eu.x", ["batch6"]),
        ("jobs", "other", []),
        ("jobs", "xjobs.eu", []),
    ])
    func unackedEntriesRouteLikeKombuLookup(exchange: String, routingKey: String, expected: [String]) {
        #expect(CeleryKeys.route(exchange: exchange, routingKey: routingKey, bindings: Self.bindings) == expected)
    }

    @Test(arguments: [
        (#"[{"body": "x", "headers": {"a": [1, {"b": "]"}]}, "properties": {"delivery_info": {"exchange": "", "routing_key": "batch1"}}}, "", "batch1"]"#,
         UnackedEntry(exchange: "", routingKey: "batch1")),
        (#"[{"s": "quote \" and ] brace }"}, "tx", "jobs.eu"]"#, UnackedEntry(exchange: "tx", routingKey: "jobs.eu")),
        (#"[ {} , "", "caf\u00e9 \ud83d\ude00 \n" ]"#, UnackedEntry(exchange: "", routingKey: "café 😀 \n")),
        (#"[null, "", "q"]"#, UnackedEntry(exchange: "", routingKey: "q")),
        (#"[{}, "e\\", "a\"b\\"]"#, UnackedEntry(exchange: "e\\", routingKey: "a\"b\\")),
        (#"["x", "q"]"#, nil),
        (#"{"not": "an array"}"#, nil),
        (#"[{"body": "x"}, "", 5]"#, nil),
        (#"[{"body": "x"}, ""]"#, nil),
        (#"[{"body": "truncated"#, nil),
    ] as [(String, UnackedEntry?)])
    func unackedValuesYieldExchangeAndRoutingKey(json: String, expected: UnackedEntry?) {
        #expect(UnackedEntry.parse(Array(json.utf8)) == expected)
    }

    @Test func printableKeyEscapesTheSeparator() {
        #expect(printableKey("batch0\(Self.sep)3") == "batch0\\x06\\x163")
    }
}
