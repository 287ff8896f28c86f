import Foundation
import Testing
@testable import Text

/// M2File.parse works on substrings since the `m2` fuzz target's profile (allocation per line:
/// Foundation's `components(separatedBy:)`, a strip to test for blank lines, a `String` copy of
/// every line). These pin the field rules to ERRANT's Python (`line.split("|||")`,
/// `str.strip()`, `str.split()`), worked by hand from Python's documented semantics.
@Suite struct M2ParseFieldTests {
    @Test func fieldsSplitLikePythonStrSplit() {
        // "a|||||b".split("|||") == ['a', '||b']; "|||".split("|||") == ['', '']; no separator: one field.
        #expect(M2File.fields("a|||||b") == ["a", "||b"])
        #expect(M2File.fields("|||") == ["", ""])
        #expect(M2File.fields("||") == ["||"])
        #expect(M2File.fields("") == [""])
        #expect(M2File.fields("0 1|||R:VERB|||goes|||REQUIRED|||-NONE-|||0") == ["0 1", "R:VERB", "goes", "REQUIRED", "-NONE-", "0"])
        // Python splits on code points: a combining acute after the separator stays in the next field.
        #expect(M2File.fields("0 1|||\u{301}x|||y") == ["0 1", "\u{301}x", "y"])
        #expect(M2File.fields("é|||ü") == ["é", "ü"])
    }

    @Test func blankLinesAndCoderFieldUsePythonWhitespace() throws {
        // U+3000 (ideographic space) and U+001F (unit separator) are whitespace to str.isspace(),
        // so a line of them separates blocks; a coder field " 1\u{3000}" strips to "1".
        let text = "S a b\nA 0 1|||R|||c|||REQUIRED|||-NONE-||| 1\u{3000}\n\u{3000}\u{1F} \nS x\nA -1 -1|||noop|||-NONE-|||REQUIRED|||-NONE-|||0\n"
        let blocks = try M2File.parse(text, path: "ws.m2")
        #expect(blocks.count == 2)
        #expect(blocks[0].annotations == [M2Annotation(start: 0, end: 1, type: "R", correction: "c", coder: 1)])
        #expect(blocks[0].corrected(coder: 1) == ["c", "b"])
        #expect(blocks[1].annotations.first?.isNoop == true && blocks[1].line == 4)
        #expect(M2File.stripped("\u{3000} 12\t") == "12" && M2File.stripped(" \t ") == "")
    }

    @Test func malformedLinesStillNameFileAndLine() {
        for (text, problem) in [("S a\nA 0 9|||R|||c\n", "span 0 9 is outside the sentence's 1 tokens"),
                                ("S a\nA 0 1|||R|||c|||REQUIRED|||-NONE-|||one\n", "coder 'one' is not an integer"),
                                ("S a\nA 0 1|||R\n", "2 '|||'-separated fields, need at least 3")] {
            do {
                _ = try M2File.parse(text, path: "bad.m2")
                Issue.record("accepted \(text.debugDescription)")
            } catch {
                #expect("\(error)".hasPrefix("bad.m2:2: ") && "\(error)".contains(problem), "\(error)")
            }
        }
    }
}
