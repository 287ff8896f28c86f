import Foundation
import Testing
@testable import Core
@testable import Text

/// Files saved on Windows end lines with CR LF, which Swift reads as one `Character`: a reader
/// that split at `"\n"` saw a CRLF file as a single line (found through the `wordnet-ner` fuzz
/// target, whose error then quoted a raw CR LF). Each reader must give the same result for both
/// line endings.
@Suite("CRLF text input")
struct CRLFInputTests {
    @Test func textLinesSplitsAtLFAndCRLF() {
        #expect("a\r\nb\n\nc".textLines() == ["a", "b", "", "c"])
        #expect("a\r\nb\n\nc\r\n".textLines(omittingEmpty: true) == ["a", "b", "c"])
        #expect("".textLines() == [""] && "".textLines(omittingEmpty: true).isEmpty)   // as `split` does
    }

    @Test func wordNetSynsetsReadTheSameFromCRLF() throws {
        let lines = ["02084071 05 n 01 dog 0 001 @ 02083346 n 0000 | a domestic dog",
                     "02121620 05 n 01 cat 0 000 | a small domesticated feline"]
        let lf = try WordNetReader.parse(lines.joined(separator: "\n") + "\n", path: "data.noun")
        let crlf = try WordNetReader.parse(lines.joined(separator: "\r\n") + "\r\n", path: "data.noun")
        #expect(lf.map(\.words) == [["dog"], ["cat"]])
        #expect(crlf.map(\.words) == lf.map(\.words))
        #expect(crlf.map(\.gloss) == lf.map(\.gloss))
    }

    @Test func wordNetErrorWithARawCRLFStaysOneLine() {
        // The fuzzer's input reduced: an offset field that is a bare CR LF pair inside a line.
        do {
            _ = try WordNetReader.parse("x 03 n 02 a 0 b 0 0000 ~\r", path: "data.noun")
            Issue.record("should fail")
        } catch {
            #expect(!"\(error)".contains("\n") && !"\(error)".contains("\r") && "\(error)".contains("data.noun:1"), "\(error)")
        }
    }

    @Test func tsvRowsReadTheSameFromCRLF() {
        let lf = LabelledTextReader.tsvRows("text\tlabel\nhello there\tgreet\nbye\tleave\n")
        let crlf = LabelledTextReader.tsvRows("text\tlabel\r\nhello there\tgreet\r\nbye\tleave\r\n")
        #expect(lf.map(\.fields) == [["text", "label"], ["hello there", "greet"], ["bye", "leave"]])
        #expect(crlf.map(\.fields) == lf.map(\.fields))
        #expect(crlf.map(\.line) == lf.map(\.line))
    }

    /// `m2`: a CRLF M2 file parsed as one block whose coder field swallowed the next line.
    @Test func m2ReadsTheSameFromCRLF() throws {
        let lines = ["S He is good teacher .", "A 2 2|||M:DET|||a|||REQUIRED|||-NONE-|||0", "",
                     "S Fine .", "A -1 -1|||noop|||-NONE-|||REQUIRED|||-NONE-|||0", ""]
        let lf = try M2File.parse(lines.joined(separator: "\n"), path: "a.m2")
        let crlf = try M2File.parse(lines.joined(separator: "\r\n"), path: "a.m2")
        #expect(lf.count == 2 && crlf == lf)
        do {
            _ = try M2File.parse("S a b\r\nA 0 1|||R|||c|||REQUIRED|||-NONE-|||x\r\n", path: "a.m2")
            Issue.record("should fail")
        } catch {
            #expect(!"\(error)".contains("\n") && !"\(error)".contains("\r") && "\(error)".contains("a.m2:2"), "\(error)")
        }
    }
}
