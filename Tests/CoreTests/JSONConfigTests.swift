import Foundation
import Testing
import Core
import TestSupport

/// The strict JSON parser (RFC 8259 cases worked by hand) and typed config access on the tiny
/// BERT fixture's `config.json` (values read from the file).
@Suite struct JSONConfigTests {
    static func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    @Test func exactNumbersAndKinds() throws {
        let v = try Self.parse(#"[0, -0, 9223372036854775807, -9223372036854775808, 9223372036854775808, 1.5, 2e3, -1E-2, true, null, NaN, -Infinity]"#)
        guard case .array(let a) = v else { Issue.record("not an array"); return }
        #expect(a[0] == .int(0) && a[1] == .int(0))
        #expect(a[2] == .int(Int64.max) && a[3] == .int(Int64.min))
        #expect(a[4] == .double(9_223_372_036_854_775_808))  // beyond Int64: no longer exact
        #expect(a[5] == .double(1.5) && a[6] == .double(2000) && a[7] == .double(-0.01))
        #expect(a[8] == .bool(true) && a[9] == .null)
        if case .double(let nan) = a[10] { #expect(nan.isNaN) } else { Issue.record("NaN literal") }
        #expect(a[11] == .double(-.infinity))
    }

    @Test func stringsAndEscapes() throws {
        // \ud83d\ude00 is the UTF-16 surrogate pair of U+1F600; \u00e9 is é.
        let v = try Self.parse(#"{"s": "a\"b\\c\/d\n\t\u00e9\ud83d\ude00", "raw": "café ✓"}"#)
        guard case .object(let o) = v else { Issue.record("not an object"); return }
        #expect(o["s"] == .string("a\"b\\c/d\n\té😀"))
        #expect(o["raw"] == .string("café ✓"))
        #expect(o.keys == ["s", "raw"])  // file order kept
    }

    /// Each text must be rejected; the message fragment says why.
    static let invalid: [(String, String)] = [
        (#"{"a": 1,}"#, "expected a string key"),
        ("[1, 2,]", "expected a value"),
        ("[01]", "leading zeros"),
        ("[1.]", "after '.'"),
        (#"["\ud800"]"#, "unpaired surrogate"),
        (#"["\udc00x"]"#, "unpaired surrogate"),
        ("[\"a\u{01}\"]", "control character"),
        (#"["\x"]"#, "invalid escape"),
        (#"{"a": 1} 2"#, "after the JSON value"),
        ("", "end of input"),
        (#"{"a" 1}"#, "expected ':'"),
        ("[tru]", "invalid literal"),
    ]

    @Test(arguments: 0..<invalid.count)
    func rejectsInvalid(_ i: Int) {
        let (text, why) = Self.invalid[i]
        let e = #expect(throws: JSONParseError.self) { try Self.parse(text) }
        #expect(e?.message.contains(why) == true, "\(text): \(e?.description ?? "accepted")")
    }

    @Test func duplicateKeysAndDepth() throws {
        let e = #expect(throws: JSONParseError.self) { try Self.parse(#"{"x": {"k": 1, "k": 2}}"#) }
        #expect(e?.kind == .duplicateKey("k") && e?.path == ["x"])
        let deep = String(repeating: "[", count: JSONParser.maxDepth + 1) + String(repeating: "]", count: JSONParser.maxDepth + 1)
        let d = #expect(throws: JSONParseError.self) { try Self.parse(deep) }
        #expect(d?.kind == .tooDeep)
        let ok = String(repeating: "[", count: JSONParser.maxDepth) + String(repeating: "]", count: JSONParser.maxDepth)
        #expect(throws: Never.self) { try Self.parse(ok) }
    }

    @Test func invalidUTF8IsFound() {
        let bytes: [UInt8] = [0x7B, 0x22, 0xC3, 0xA9, 0xFF, 0x22]  // {"é<ff>"
        #expect(bytes.withUnsafeBytes { JSONParser.firstInvalidUTF8($0) } == 4)
        #expect(throws: IOError.self) { try bytes.withUnsafeBytes { try JSONConfig(parsing: $0, file: "x.json") } }
    }

    // MARK: - Typed access

    static let bertConfig = TestPaths.fixture("tiny/bert_tokencls/config.json")

    @Test func readsBertConfig() throws {
        let c = try JSONConfig(contentsOf: Self.bertConfig)
        #expect(try c.int("hidden_size") == 32)
        #expect(try c.int("num_hidden_layers") == 2 && c.int("num_attention_heads") == 4)
        #expect(try c.float("layer_norm_eps") == 1e-12)
        #expect(try c.double("attention_probs_dropout_prob") == 0.1)
        #expect(try c.string("hidden_act") == "gelu")
        #expect(try c.bool("tie_word_embeddings") == true)
        #expect(try c.optionalInt("bos_token_id") == nil)          // null
        #expect(try c.optionalInt("no_such_key") == nil)           // absent
        #expect(try c.int("no_such_key", default: 7) == 7)
        #expect(try c.stringArray("architectures") == ["BertForTokenClassification"])
        #expect(try c.stringMap("id2label")["8"] == "LABEL_8")
        #expect(try c.intMap("label2id")["LABEL_3"] == 3)
        #expect(try c.nested("id2label").string("0") == "LABEL_0")
        #expect(c.keys.first == "add_cross_attention")
    }

    @Test func errorsNameFileKeyAndExpectation() throws {
        let c = try JSONConfig(contentsOf: Self.bertConfig)
        let path = Self.bertConfig.path
        let missing = #expect(throws: IOError.self) { try c.int("hidden_sise") }
        #expect(missing?.description == "\(path): key 'hidden_sise': missing (expected an integer); did you mean 'hidden_size'?")
        let wrong = #expect(throws: IOError.self) { try c.int("hidden_act") }
        #expect(wrong?.kind == .wrongType)
        #expect(wrong?.description == "\(path): key 'hidden_act': expected an integer but found a string (\"gelu\"); fix the value in the file")
        // A wrong type is an error even where the key is optional.
        #expect(throws: IOError.self) { try c.optionalBool("hidden_size") }
        #expect(throws: IOError.self) { try c.float("hidden_act", default: 1) }
        let null = #expect(throws: IOError.self) { try c.int("bos_token_id") }
        #expect(null?.description.contains("key 'bos_token_id': null (expected an integer)") == true)
        let nested = #expect(throws: IOError.self) { try c.nested("id2label").int("0") }
        #expect(nested?.description.contains("key 'id2label.0': expected an integer") == true)
    }

    @Test func numberConversions() throws {
        let c = try JSONConfig(parsing: #"{"a": 768.0, "b": 0.5, "c": true, "d": 3, "e": [1, 2.0], "f": [1, "x"]}"#, file: "inline.json")
        #expect(try c.int("a") == 768)                       // integral float
        #expect(throws: IOError.self) { try c.int("b") }     // fractional
        #expect(throws: IOError.self) { try c.int("c") }     // booleans are not numbers
        #expect(try c.float("d") == 3)                       // integers are numbers
        #expect(try c.intArray("e") == [1, 2])
        let mixed = #expect(throws: IOError.self) { try c.intArray("f") }
        #expect(mixed?.description.contains("expected an array of integers but found an array of 2 items") == true)
        let bad = #expect(throws: IOError.self) { try JSONConfig(parsing: #"{"a": 1,, }"#, file: "bad.json") }
        #expect(bad?.kind == .invalidJSON && bad?.description.hasPrefix("bad.json: invalid JSON: expected a string key") == true)
        let dup = #expect(throws: IOError.self) { try JSONConfig(parsing: #"{"a": 1, "a": 2}"#, file: "dup.json") }
        #expect(dup?.kind == .duplicateKey)
        let top = #expect(throws: IOError.self) { try JSONConfig(parsing: "[1]", file: "arr.json") }
        #expect(top?.kind == .notAnObject)
    }
}
