import Foundation
import Testing
@testable import Core

/// Inputs found by the niced soak of 26 November 2026 (session 4) that broke the error rule
/// (one line, names the file, at most 4,000 characters — `Tests/Fuzz/Harness/FuzzSupport.swift`),
/// minimised by hand to what matters.
@Suite("Fuzz regressions (long quoted input)")
struct FuzzRegressionLongInputTests {
    /// `ast-config`/`json-config`: a 2 KB key followed by a syntax error. The parse error quoted
    /// the whole key twice (as the place and in the message): a 4,700-character line.
    @Test func jsonSyntaxErrorAfterAHugeKeyIsShort() {
        let key = String(repeating: "\u{7F}k", count: 1500)
        let text = "{\n  \"\(key)\" 1}"
        do {
            _ = try JSONConfig(parsing: text, file: "config.json")
            Issue.record("should fail")
        } catch {
            let message = "\(error)"
            // 80–120 characters of key survive; each DEL is then written as the 6-character escape
            // `\u{7F}`, so the bound is a few hundred characters whatever the key's length.
            #expect(message.count < 1500, "\(message.count) characters")
            #expect(message.contains("config.json") && message.contains("more characters"), "\(message)")
            #expect(!message.contains("\n"))
        }
    }

    /// A nested key path built from input keys is clipped in "wrong type"/"missing" errors too.
    @Test func wrongTypeUnderAHugeNestedKeyIsShort() throws {
        let key = String(repeating: "n", count: 3000)
        let config = try JSONConfig(parsing: "{\"\(key)\": {\"x\": \"text\"}}", file: "config.json")
        do {
            _ = try config.nested(key).optionalInt("x")
            Issue.record("should fail")
        } catch {
            #expect("\(error)".count < 400 && "\(error)".contains("config.json"), "\(error)")
        }
    }

    /// `adapter-config`: `"exclude_modules": "(LORA"` — the invalid-regex error did not name the
    /// file it came from.
    @Test func invalidExcludeRegexNamesTheFile() {
        let json = #"{"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["q"], "exclude_modules": "(LORA"}"#
        do {
            _ = try AdapterConfig.decode(Data(json.utf8), file: "adapter_config.json")
            Issue.record("should fail")
        } catch {
            let message = "\(error)"
            #expect(message.contains("adapter_config.json") && message.contains("exclude_modules"), "\(message)")
        }
    }

    @Test func clippingKeepsShortTextAndCountsTheRest() {
        #expect(clippedForMessage("abc", limit: 3) == "abc")
        #expect(clippedForMessage("abcdef", limit: 4) == "abcd…(2 more characters)")
    }
}

/// `peft-folder`: an adapter folder whose `target_modules` match nothing in the model gave
/// "target_modules [...] matched no module" without naming the folder's config file.
@Suite("Fuzz regressions (adapter folder)")
struct FuzzRegressionAdapterFolderTests {
    @Test func unmatchedTargetsInAFolderNameTheConfigFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("peft-unmatched-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = #"{"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["lhn0", "lin2"]}"#
        try Data(config.utf8).write(to: dir.appendingPathComponent("adapter_config.json"))
        try SafeTensors.write([:], to: dir.appendingPathComponent("adapter_model.safetensors"))
        let peft = PeftModel(AdapterMLP())
        do {
            _ = try peft.load(from: dir)
            Issue.record("should fail")
        } catch {
            let message = "\(error)"
            #expect(message.contains("adapter_config.json") && message.contains("matched no module"), "\(message)")
        }
        #expect(peft.configs.isEmpty)
    }

    /// `adapter-config` (soak round C): an alpha of 1.8e111 — a valid JSON number past Float's
    /// range — decoded to +inf and only failed when the config was written back (an error naming
    /// no file). It is refused at decoding now, as is an infinite `alpha_pattern` entry.
    @Test func alphaBeyondFloatRangeIsRefusedNamingTheFile() {
        let huge = "1" + String(repeating: "7", count: 110)
        for json in [#"{"peft_type": "LORA", "r": 8, "lora_alpha": \#(huge), "target_modules": ["q"]}"#,
                     #"{"peft_type": "LORA", "r": 8, "target_modules": ["q"], "alpha_pattern": {"q": \#(huge)}}"#] {
            do {
                _ = try AdapterConfig.decode(Data(json.utf8), file: "adapter_config.json")
                Issue.record("should fail: \(json.prefix(60))")
            } catch {
                let message = "\(error)"
                #expect(message.contains("adapter_config.json") && message.contains("finite"), "\(message)")
            }
        }
    }
}
