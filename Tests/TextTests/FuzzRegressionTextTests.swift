import Foundation
import Testing
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
}
