import Foundation
import Testing
import Core
@testable import Text

/// Inputs that trapped the text readers (found while writing the in-memory fuzz targets for the
/// WordNet files; the fuzz target `wordnet-ner` now feeds both parsers), minimised by hand.
@Suite("Fuzz regressions (Text)")
struct TextFuzzRegressionTests {
    /// An index line whose pointer count is Int.max: `4 + p_cnt + 2` overflowed and trapped.
    @Test func wordNetIndexWithAHugePointerCountIsAnError() {
        for line in ["dog n 1 9223372036854775807 1 0 02084071", "dog n 9223372036854775807 0 1 0 02084071"] {
            do {
                _ = try WordNetReader.parseIndex(line + "\n", path: "index.noun")
                Issue.record("should fail: \(line)")
            } catch {
                #expect("\(error)".contains("index.noun:1") && "\(error)".contains("bad counts"), "\(error)")
            }
        }
    }

    /// A synset line whose p_cnt is Int.max: `i + 4 * p_cnt` overflowed and trapped.
    @Test func wordNetSynsetWithAHugePointerCountIsAnError() {
        let line = "02084071 05 n 01 dog 0 9223372036854775807 @ 02083346 n 0000 | a domestic dog"
        do {
            _ = try WordNetReader.parse(line + "\n", path: "data.noun")
            Issue.record("should fail")
        } catch {
            #expect("\(error)".contains("data.noun:1") && "\(error)".contains("pointers"), "\(error)")
        }
        // The same line with its real count still parses.
        let ok = "02084071 05 n 01 dog 0 001 @ 02083346 n 0000 | a domestic dog"
        #expect((try? WordNetReader.parse(ok + "\n", path: "data.noun"))?.first?.words == ["dog"])
    }

    /// Header values and chunk-size lines from the peer were quoted raw into HTTP errors: a bare
    /// CR, a backspace or an LF split or overwrote the log line (targets `http-request`,
    /// `http-response`; Tests/Fuzz/crashes/http-*/, minimised).
    @Test func httpErrorsQuotingPeerBytesStayOneLine() {
        let request = Array("POST /embed HTTP/1.1\r\nTransfer-Encoding: chunked\r\u{8}Connection: close\r\n\r\n".utf8)
        let response = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\n4\n2]]\r\n0\r\n\r\n".utf8)
        var messages: [String] = []
        do { _ = try HTTPParser.request(request); Issue.record("request should fail") } catch { messages.append(error.message) }
        do { _ = try HTTPParser.response(response, closed: true, limits: HTTPLimits()); Issue.record("response should fail") } catch {
            messages.append(error.message)
        }
        #expect(messages.count == 2)
        for m in messages {
            #expect(!m.unicodeScalars.contains { $0.value < 0x20 }, "\(m.debugDescription)")
        }
        #expect(messages.first?.contains("Transfer-Encoding 'chunked\\r\\u{8}Connection: close'") == true, "\(messages)")
    }

    /// A crosstune feature-cache entry claiming 2^32−1 tokens of 2^32−1 dimensions: the byte
    /// count `tokens * dim * 4` overflowed Int and trapped (fuzz target `feature-cache`, found
    /// by review while writing it). A damaged or planted cache file must be a miss.
    @Test func featureCacheEntryWithHugeCountsIsAMiss() {
        let key = "local\u{0}m\u{0}tokens\u{0}hi"
        func entry(tokens: UInt32, dim: UInt32, floats: Int) -> [UInt8] {
            var b = Array("PKFEAT1\n".utf8)
            func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
            u32(UInt32(key.utf8.count)); b += Array(key.utf8); u32(tokens); u32(dim)
            b += [UInt8](repeating: 0, count: 4 * floats)
            return b
        }
        #expect(CachedFeatureSource.decodeEntry(entry(tokens: .max, dim: .max, floats: 1), key: key) == nil)
        #expect(CachedFeatureSource.decodeEntry(entry(tokens: 1 << 31, dim: 1 << 31, floats: 0), key: key) == nil)
        // A key length past the end, and the right entry for another key, are misses too.
        var longKey = entry(tokens: 1, dim: 1, floats: 1)
        longKey.replaceSubrange(8..<12, with: [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(CachedFeatureSource.decodeEntry(longKey, key: key) == nil)
        #expect(CachedFeatureSource.decodeEntry(entry(tokens: 2, dim: 1, floats: 2), key: key + "x") == nil)
        // An intact entry decodes: [2, 1] zeros.
        #expect(CachedFeatureSource.decodeEntry(entry(tokens: 2, dim: 1, floats: 2), key: key) == TokenFeatures(tokens: 2, dim: 1, values: [0, 0]))
    }

    /// `bert-config` (niced soak, session 4, round C): an `id2label` key holding an escaped newline
    /// and a run of U+FFFF — the "not a non-negative integer" error quoted it raw over two lines.
    @Test func id2labelKeyWithANewlineGivesOneLine() throws {
        let key = "+00d" + String(repeating: "\\uFFFF", count: 40) + "b\\num_hid;18"
        let text = "{\n  \"id2label\": {\"\(key)\": \"B\"}}"
        do {
            let config = try BertConfig(json: try JSONConfig(parsing: text, file: "config.json"))
            try config.validate(file: "config.json")
            Issue.record("should fail")
        } catch {
            let message = "\(error)"
            #expect(!message.contains("\n") && message.contains("config.json") && message.contains("id2label"), "\(message)")
            #expect(message.count < 400, "\(message.count) characters")
        }
    }
}
