import Core
import Foundation
import Testing
import TestSupport
@testable import Text

/// Requests a fake server saw (the handler runs on server threads).
final class RequestLog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [HTTPRequest] = []
    func add(_ r: HTTPRequest) { lock.lock(); items.append(r); lock.unlock() }
    var all: [HTTPRequest] { lock.lock(); defer { lock.unlock() }; return items }
}

/// The OpenAI-compatible generator client against a fake chat-completions server on loopback
/// that checks what it receives.
@Suite(.serialized) struct CrossTuneGeneratorClientTests {
    static func chatReply(_ content: String) -> HTTPResponse {
        .json(200, "{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
            + TEIJSON.quoted(content) + "},\"finish_reason\":\"stop\"}]}")
    }

    @Test func sendsTheFewShotPromptAndRetriesOverload() throws {
        let log = RequestLog()
        let server = try HTTPServer(port: 0) { request in
            log.add(request)
            // The first attempt meets an overloaded server; the client must back off and retry.
            if log.all.count == 1 { return .json(503, #"{"error":{"message":"busy","type":"server_error"}}"#) }
            return Self.chatReply("1. a crusty loaf of rye\n- Onion soup with cheese\n\"a cup of hot cocoa\"\n\n2) Bread baked with butter and sugar\n")
        }
        server.start()
        defer { server.stop() }
        var o = ChatGeneratorOptions()
        o.model = "tiny-llm"
        o.apiKey = "k123"
        o.initialBackoff = 0.01
        let client = try ChatCompletionsClient(url: server.url + "/v1", options: o)
        var slept: [Double] = []
        client.sleep = { slept.append($0) }
        let shots = ["bread baked with butter and sugar", "a soup of beans and onions"]
        let out = try client.generate(label: "food", description: "foods and drinks", examples: shots, count: 3, seed: 7)
        // Markers and quotes stripped; the line that repeats a demonstration is not new and is dropped.
        #expect(out == ["a crusty loaf of rye", "Onion soup with cheese", "a cup of hot cocoa"])
        #expect(client.apiCalls == 2 && client.retries == 1 && slept == [0.01])

        let requests = log.all
        #expect(requests.count == 2)
        let r = requests[1]
        #expect(r.method == "POST" && r.path == "/v1/chat/completions")
        #expect(r.headers["authorization"] == "Bearer k123" && r.headers["content-type"] == "application/json")
        let body = try JSONConfig(parsing: String(decoding: r.body, as: UTF8.self), file: "request")
        #expect(try body.string("model") == "tiny-llm" && body.int("seed") == 7 && body.bool("stream") == false)
        guard case .array(let messages)? = body.value("messages"), messages.count == 2,
              case .object(let system) = messages[0], case .object(let user) = messages[1],
              case .string(let content)? = user["content"] else {
            Issue.record("messages are not [system, user]: \(String(decoding: r.body, as: UTF8.self))")
            return
        }
        #expect(system["role"] == .string("system") && user["role"] == .string("user"))
        // Every demonstration, the class and its description are in the prompt, and the count asked.
        for s in shots { #expect(content.contains("- \(s)\n")) }
        #expect(content.contains("Class: food (foods and drinks)") && content.contains("Write 3 new"))
    }

    @Test func refusalsAndWrongShapesAreClearErrors() throws {
        let server = try HTTPServer(port: 0) { request in
            let body = String(decoding: request.body, as: UTF8.self)
            if body.contains("\"model\":\"missing\"") {
                return .json(404, #"{"error":{"message":"model 'missing' not found","type":"invalid_request_error"}}"#)
            }
            return .json(200, #"{"data":[1,2,3]}"#)
        }
        server.start()
        defer { server.stop() }
        var o = ChatGeneratorOptions()
        o.model = "missing"
        let refused = try ChatCompletionsClient(url: server.url, options: o)
        refused.sleep = { _ in }
        let m1 = "\(try #require(throws: CrossTuneError.self) { try refused.complete([("user", "hi")], seed: 1) })"
        // A 4xx is the caller's mistake: one request, an error with the URL, status and server message.
        #expect(m1.contains("\(server.url)/v1/chat/completions") && m1.contains("HTTP 404") && m1.contains("model 'missing' not found"))
        #expect(refused.apiCalls == 1)
        let wrong = try ChatCompletionsClient(url: server.url)
        let m2 = "\(try #require(throws: CrossTuneError.self) { try wrong.complete([("user", "hi")], seed: 1) })"
        #expect(m2.contains("choices[0].message.content"))
        // Nobody listening: retried, then one line naming the URL.
        var fast = ChatGeneratorOptions()
        fast.maxAttempts = 2
        fast.timeout = 2
        let down = try ChatCompletionsClient(url: "http://127.0.0.1:9/v1", options: fast)
        down.sleep = { _ in }
        let m3 = "\(try #require(throws: CrossTuneError.self) { try down.complete([("user", "hi")], seed: 1) })"
        #expect(m3.contains("http://127.0.0.1:9/v1/chat/completions") && m3.contains("2 attempts") && down.retries == 1)
    }
}

/// The offline EDA generator and the switch.
@Suite struct CrossTuneAugmentationTests {
    static let table = SynonymTable(["car": ["auto", "automobile", "car"], "fast": ["quick", "speedy"], "road": ["route"]])
    static let words = "the car drove fast along the road".split(separator: " ").map(String.init)

    @Test func edaOperationsKeepTheirInvariants() throws {
        let eda = try EDAGenerator(table: Self.table, alpha: 0.3)
        // 7 words, alpha 0.3: n = round(2.1) = 2 changes.
        for seed in UInt64(1)...20 {
            var rng = SplitMix64(seed: seed)
            let sr = eda.apply(.synonymReplacement, to: Self.words, rng: &rng)
            // Exactly the two replaceable positions change (car, fast, road have synonyms), each to a synonym.
            #expect(sr.count == 7 && zip(sr, Self.words).filter { $0 != $1 }.count == 2)
            for (new, old) in zip(sr, Self.words) where new != old { #expect(Self.table.of(old).contains(new)) }
            let ri = eda.apply(.randomInsertion, to: Self.words, rng: &rng)
            // Two words inserted, each a synonym from the table.
            #expect(ri.count == 9 && ri.filter { !Self.words.contains($0) }.allSatisfy { w in ["auto", "automobile", "quick", "speedy", "route"].contains(w) })
            let rs = eda.apply(.randomSwap, to: Self.words, rng: &rng)
            #expect(rs.sorted() == Self.words.sorted())
            let rd = eda.apply(.randomDeletion, to: Self.words, rng: &rng)
            // Deletion keeps a subsequence and never empties the text.
            var it = Self.words.makeIterator()
            #expect(!rd.isEmpty && rd.allSatisfy { w in while let x = it.next() { if x == w { return true } }; return false })
        }
        // Stop words are never replaced: a text of stop words and unknown words is unchanged by SR.
        var rng = SplitMix64(seed: 3)
        #expect(eda.apply(.synonymReplacement, to: ["the", "zebra"], rng: &rng) == ["the", "zebra"])
    }

    @Test func edaGenerationIsSeededAndNew() throws {
        let eda = try EDAGenerator(table: Self.table, alpha: 0.3)
        let shots = [Self.words.joined(separator: " "), "a fast car on a long road"]
        let a = try eda.generate(label: "x", description: "x", examples: shots, count: 6, seed: 5)
        let b = try eda.generate(label: "x", description: "x", examples: shots, count: 6, seed: 5)
        let c = try eda.generate(label: "x", description: "x", examples: shots, count: 6, seed: 6)
        #expect(a == b && a != c && a.count == 6)
        #expect(Set(a).count == 6 && a.allSatisfy { !shots.contains($0) })
        #expect(throws: CrossTuneError.self) { try EDAGenerator(table: Self.table, alpha: 1.5) }
    }

    @Test func wordNetSynonymsShareASynset() throws {
        // A one-synset data.adv is enough: WordNet 3.0's adverb synset 00085811 (pointers dropped)
        // pairs "quickly" with "rapidly", "speedily", "chop-chop" and "apace".
        let tmp = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let line = "00085811 02 r 05 quickly 0 rapidly 0 speedily 0 chop-chop 0 apace 0 000 | with rapid movements\n"
        try line.write(to: tmp.appendingPathComponent("data.adv"), atomically: true, encoding: .utf8)
        for f in ["data.noun", "data.verb", "data.adj"] { try "".write(to: tmp.appendingPathComponent(f), atomically: true, encoding: .utf8) }
        let t = try SynonymTable.wordNet(directory: tmp.path)
        #expect(t.of("Quickly") == ["apace", "chop-chop", "rapidly", "speedily"])
    }

    @Test func switchKeepsAgreeingConfidentExamples() throws {
        // Hand-worked: 5 candidates over 3 classes with threshold 0.6.
        //  0: class 0, p = (.7,.2,.1)  → agrees, .7 ≥ .6 → kept
        //  1: class 0, p = (.5,.4,.1)  → agrees but .5 < .6 → dropped
        //  2: class 1, p = (.1,.3,.6)  → teacher says 2 → dropped (disagreed)
        //  3: class 2, p = (.0,.1,.9)  → kept
        //  4: class 2, p = (.3,.3,.4)  → agrees, .4 < .6 → dropped
        let p: [[Float]] = [[0.7, 0.2, 0.1], [0.5, 0.4, 0.1], [0.1, 0.3, 0.6], [0, 0.1, 0.9], [0.3, 0.3, 0.4]]
        let (kept, r) = try AugmentationSwitch.filter(intended: [0, 0, 1, 2, 2], probabilities: p, labels: ["a", "b", "c"], threshold: 0.6)
        #expect(kept == [0, 3])
        #expect(r.generated == [2, 1, 2] && r.kept == [1, 0, 1] && r.disagreed == [0, 1, 0])
        #expect(r.summary == "a 1/2, b 0/1, c 1/2")
        let (all, _) = try AugmentationSwitch.filter(intended: [0, 0, 1, 2, 2], probabilities: p, labels: ["a", "b", "c"], threshold: nil)
        #expect(all == [0, 1, 2, 3, 4])
        #expect(throws: CrossTuneError.self) { try AugmentationSwitch.filter(intended: [0], probabilities: [], labels: ["a", "b"], threshold: 0.5) }
    }
}
