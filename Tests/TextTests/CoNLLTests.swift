import Foundation
import Testing
@testable import Text

/// CoNLL reading (schemes, conversion, malformed input), label sets and the prediction writer.
/// Expected conversions are worked by hand from the scheme definitions in TagScheme.swift.
@Suite struct CoNLLTests {
    static func parse(_ text: String, _ reader: CoNLLReader = CoNLLReader()) throws -> CoNLLFile {
        try reader.parse(text, path: "t.conll")
    }

    /// The message a malformed input produces (nil when it parses).
    static func message(_ text: String, _ reader: CoNLLReader = CoNLLReader()) -> String? {
        do { _ = try parse(text, reader); return nil } catch { return "\(error)" }
    }

    @Test func readsTheMetricsFixture() throws {
        let path = Fixtures.path("metrics/ner_cases.conll")
        // Raw reading (as for scoring): every sentence and token, tags as written.
        let gold = try CoNLLReader(tagColumn: 1, convertToIOB2: false).read(path: path)
        let cases = try EntityMetricsTests.cases()
        #expect(gold.sentences.count == 14 && gold.columnCount == 3 && gold.scheme == .iobes)
        #expect(gold.tokenCount == 58)  // conlleval's "processed 58 tokens"
        for (s, c) in zip(gold.sentences, cases) {
            #expect(s.tokens == strings(c["tokens"]) && s.tags == strings(c["gold"]))
        }
        #expect(gold.sentences[12].lines == Array(61...66))
        // The file mixes BIO sentences with IOBES ones, so converting it as IOBES is refused at
        // the first BIO entity ("John B-PER / Smith I-PER / lives O": I-PER not closed by E-PER).
        #expect(throws: CoNLLError.malformed(path: path, line: 2, problem: "I-PER is not followed by I-PER or E-PER, which IOBES does not allow; fix the tags or choose the file's scheme (iob1 accepts any B/I sequence)")) {
            try CoNLLReader(tagColumn: 1).read(path: path)
        }
        // The BIO-only file converts (detected as IOB1; valid IOB2 gold is unchanged) …
        let bioPath = Fixtures.path("metrics/ner_cases_bio.conll")
        let bio = try CoNLLReader(tagColumn: 1).read(path: bioPath)
        #expect(bio.scheme == .iob1 && bio.sentences.map(\.tags) == cases.prefix(12).map { strings($0["gold"]) })
        // … and its prediction column, read as IOB1, turns entity-starting I- tags into B-.
        let pred = try CoNLLReader().read(path: bioPath)
        #expect(pred.sentences[1].tags == ["B-PER", "I-PER", "O", "B-LOC"])  // from I-PER I-PER O I-LOC
        #expect(pred.sentences[2].tags == ["B-ORG", "B-PER", "B-ORG", "O"])  // from B-ORG I-PER I-ORG O
    }

    @Test func conllFormatsAndSchemes() throws {
        // CoNLL-2003 layout with -DOCSTART-, four columns, IOB1 tags (entity starting with I-).
        let conll2003 = """
        -DOCSTART- -X- -X- O

        EU NNP B-NP I-ORG
        rejects VBZ B-VP O
        German JJ B-NP I-MISC
        call NN I-NP O
        . . O O

        Peter NNP B-NP I-PER
        Blackburn NNP I-NP I-PER
        Mary NNP I-NP B-PER

        """
        let f = try Self.parse(conll2003)
        #expect(f.scheme == .iob1 && f.columnCount == 4 && f.sentences.count == 2)
        #expect(f.sentences[0].tags == ["B-ORG", "O", "B-MISC", "O", "O"])
        #expect(f.sentences[1].tags == ["B-PER", "I-PER", "B-PER"])
        #expect(f.sentences[0].lines == [3, 4, 5, 6, 7])
        // Tag column chosen explicitly: the chunk column (index 2) is IOB2 already.
        let chunks = try Self.parse(conll2003, CoNLLReader(tagColumn: 2))
        #expect(chunks.sentences[0].tags == ["B-NP", "B-VP", "B-NP", "I-NP", "O"])

        // Tabs, a token with a space, Windows line endings, BOM, no final newline.
        let tabbed = try Self.parse("\u{FEFF}New York\tB-LOC\r\nis\tO\r\n\r\nParis\tB-LOC")
        #expect(tabbed.sentences.map(\.tokens) == [["New York", "is"], ["Paris"]])
        #expect(tabbed.sentences[0].lines == [1, 2] && tabbed.sentences[1].lines == [4])

        // BILOU and IOBES both convert; several blank lines are one break.
        let bilou = try Self.parse("a U-PER\nb B-ORG\nc I-ORG\nd L-ORG\n\n\n\ne O\n")
        #expect(bilou.scheme == .bilou && bilou.sentences.map(\.tags) == [["B-PER", "B-ORG", "I-ORG", "I-ORG"], ["O"]])
        let iobes = try Self.parse("a S-PER\nb B-ORG\nc E-ORG\n")
        #expect(iobes.sentences[0].tags == ["B-PER", "B-ORG", "I-ORG"])
        // Explicit IOB2 keeps valid IOB2 as is; unconverted reading keeps the raw tags.
        #expect(try Self.parse("a B-PER\nb I-PER\n", CoNLLReader(scheme: .iob2)).sentences[0].tags == ["B-PER", "I-PER"])
        #expect(try Self.parse("a S-PER\n", CoNLLReader(convertToIOB2: false)).sentences[0].tags == ["S-PER"])
    }

    @Test func malformedLinesNameFileLineAndFix() {
        // Column count differs from the first token line.
        #expect(Self.message("a B-PER x\nb O\n") == "t.conll:2: found 2 column(s) but line 1 has 3; every token line needs the same columns (token first, tag last), separated by spaces or tabs")
        // One column only.
        #expect(Self.message("\nlonely\n")?.hasPrefix("t.conll:2: only one column ('lonely')") == true)
        // Empty tag (trailing tab on a two-column tab file).
        #expect(Self.message("a\t\n") == "t.conll:1: empty tag; every token needs a tag (O when outside an entity)")
        // Tag not in the scheme / not a tag at all.
        #expect(Self.message("a O\nb B_PER\n") == "t.conll:2: tag 'B_PER' is not valid IOB1 (expected O or B-/I- followed by a type); fix the tag or choose the file's scheme")
        #expect(Self.message("a X-PER\n", CoNLLReader(scheme: .iob2))?.hasPrefix("t.conll:1: tag 'X-PER' is not valid IOB2") == true)
        #expect(Self.message("a B-\n")?.hasPrefix("t.conll:1: tag 'B-' is not valid") == true)
        // Sequences that break an explicit scheme.
        #expect(Self.message("a O\nb I-PER\n", CoNLLReader(scheme: .iob2)) == "t.conll:2: I-PER follows O, which IOB2 does not allow; fix the tags or choose the file's scheme (iob1 accepts any B/I sequence)")
        #expect(Self.message("x O\n\na B-LOC\nb E-LOC\nc S-PER\nd B-PER\n") == "t.conll:6: B-PER is not followed by I-PER or E-PER, which IOBES does not allow; fix the tags or choose the file's scheme (iob1 accepts any B/I sequence)")
        #expect(Self.message("a E-PER\n")?.hasPrefix("t.conll:1: E-PER starts the sentence") == true)
        #expect(Self.message("a S-PER\nb U-PER\n")?.contains("mixes IOBES (E-/S-) and BILOU (L-/U-)") == true)
        // Tag column that does not exist; empty files.
        #expect(Self.message("a O\n", CoNLLReader(tagColumn: 3))?.hasPrefix("t.conll:1: tag column 4 does not exist") == true)
        #expect(Self.message("") == "t.conll: no token lines found; a CoNLL file has one token per line (token … tag) and blank lines between sentences")
        #expect(Self.message("-DOCSTART- O\n\n  \n") != nil)
    }

    @Test func fileErrors() throws {
        #expect(throws: CoNLLError.self) { try CoNLLReader().read(path: "/nonexistent/x.conll") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("peftkit-text-\(getpid())-conll")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("latin1.conll")
        try Data([0x63, 0x61, 0x66, 0xE9, 0x20, 0x4F, 0x0A]).write(to: bad)
        #expect(throws: CoNLLError.notUTF8(path: bad.path)) { try CoNLLReader().read(path: bad.path) }
    }

    @Test func labelSetAndUnknownLabels() throws {
        let train = try Self.parse("a B-PER\nb O\n\nc I-MISC\nd B-LOC\ne I-LOC\n")
        let labels = NERLabels(inferredFrom: train)
        #expect(labels.labels == ["O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-PER", "I-PER"])
        #expect(labels.ids(of: ["B-PER", "I-PER", "O"]) == [5, 6, 0])
        #expect(labels.label(of: 99) == "O")
        // I-PER never occurs in training but PER does: accepted.
        let dev = try CoNLLReader().parse("x B-PER\ny I-PER\n", path: "dev.conll")
        try labels.validate(dev, trainingPath: "train.conll")
        let test = try CoNLLReader().parse("x O\n\ny B-ORG\n", path: "test.conll")
        #expect(throws: CoNLLError.unknownLabel(path: "test.conll", line: 3, label: "B-ORG", trainingPath: "train.conll", known: ["LOC", "MISC", "PER"])) {
            try labels.validate(test, trainingPath: "train.conll")
        }
        let message = "\(CoNLLError.unknownLabel(path: "test.conll", line: 3, label: "B-ORG", trainingPath: "train.conll", known: ["LOC"]))"
        #expect(message == "test.conll:3: label 'B-ORG' never occurs in the training file train.conll (its entity types: LOC); add training examples of it or fix the tag")
    }

    @Test func writerRoundTripsAtomically() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("peftkit-text-\(getpid())-writer")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("pred.conll").path
        let sentences = [
            PredictedSentence(tokens: ["John", "Smith"], gold: ["B-PER", "I-PER"], predicted: ["B-PER", "O"]),
            PredictedSentence(tokens: ["Paris"], gold: ["B-LOC"], predicted: ["B-LOC"]),
        ]
        try CoNLLWriter.write(sentences, to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "John B-PER B-PER\nSmith I-PER O\n\nParis B-LOC B-LOC\n\n")
        // No temporary file is left next to the output.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["pred.conll"])
        // Read back: gold column 2, predictions last.
        let back = try CoNLLReader(tagColumn: 1).read(path: path)
        #expect(back.sentences.map(\.tags) == [["B-PER", "I-PER"], ["B-LOC"]])
        // A token with a space switches the file to tabs and still round-trips.
        try CoNLLWriter.write([PredictedSentence(tokens: ["New York", "now"], predicted: ["B-LOC", "O"])], to: path)
        #expect(try CoNLLReader().read(path: path).sentences[0].tokens == ["New York", "now"])
        // Bad content is refused before anything is written.
        #expect(throws: CoNLLError.self) {
            try CoNLLWriter.write([PredictedSentence(tokens: ["a", "b"], predicted: ["O"])], to: path)
        }
        #expect(throws: CoNLLError.self) {
            try CoNLLWriter.write([PredictedSentence(tokens: ["a\tb"], predicted: ["O"])], to: path)
        }
        #expect(try CoNLLReader().read(path: path).sentences[0].tokens == ["New York", "now"])
    }
}
