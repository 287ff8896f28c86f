import Foundation
import Testing
import TestSupport
@testable import Text

/// The WordNet silver-standard builder on a hand-made excerpt in WordNet 3.0's data/index
/// format (wndb(5WN)). Every expected tag below is worked out by hand from the rules in
/// `EntityGazetteer`'s documentation; comments say which rule decides.
@Suite struct WordNetNERTests {
    // Offsets are ids here (the parser never seeks), so small numbers are fine.
    static let dataNoun = """
          1 This software and database is being provided to you, the LICENSEE, by
        00000100 15 n 01 New_York_City 0 001 @i 00000900 n 0000 | the largest city in New York State; "she moved to New York City"
        00000200 15 n 01 New_York 0 001 @i 00000900 n 0000 | a state in the northeastern United States
        00000300 18 n 02 London 0 Jack_London 0 001 @i 00000950 n 0000 | United States writer (1876-1916)
        00000400 15 n 01 London 0 001 @i 00000900 n 0000 | the capital of England; "he lives in London"
        00000500 14 n 01 Beatles 0 001 @i 00000960 n 0000 | a rock group from Liverpool; "the Beatles played in New York City and Liverpool"
        00000600 10 n 01 Bible 0 001 @i 00000970 n 0000 | the sacred writings; "the Bible was read in London"
        00000700 15 n 01 Liverpool 0 001 @i 00000900 n 0000 | a port city in England
        00000800 15 n 01 England 0 001 @i 00000900 n 0000 | a division of the United Kingdom; "New York Times reporters visited England"
        00000900 15 n 02 city 0 metropolis 0 002 ~i 00000100 n 0000 ~i 00000400 n 0000 | a large town; "Reading is fun"
        00000950 18 n 01 writer 0 000 | a person who writes; "King spoke to Jack London"
        00000960 14 n 02 group 0 band 0 000 | musicians who play together
        00000970 10 n 01 scripture 0 000 | sacred writing; "he moved to Reading"
        00000980 09 n 01 reading 0 000 | something that is read; "London's docks and Londoners"
        00001000 15 n 01 Reading 0 001 @i 00000900 n 0000 | a town in England
        00001100 18 n 01 King 0 001 @i 00000950 n 0000 | a civil rights leader
        00001200 18 n 01 king 0 000 | a male sovereign
        00001300 18 n 01 Mercury 0 001 @i 00000950 n 0000 | messenger of the gods
        00001400 17 n 01 Mercury 0 001 @i 00000900 n 0000 | the smallest planet; "Mercury is close to the sun"
        """

    /// `lemma pos synset_cnt p_cnt ptrs… sense_cnt tagsense_cnt offsets…`; London's city sense
    /// is listed first, Mercury's planet sense first, reading's common sense first.
    static let indexNoun = """
          1 This software and database is being provided to you, the LICENSEE, by
        london n 2 1 @ 2 1 00000400 00000300
        mercury n 2 1 @ 2 0 00001400 00001300
        reading n 2 1 @ 2 0 00000980 00001000
        """

    static func synsets() throws -> [WordNetSynset] { try WordNetReader.parse(dataNoun, path: "data.noun") }
    static func gazetteer() throws -> EntityGazetteer {
        EntityGazetteer(synsets: try synsets(), nounIndex: try WordNetReader.parseIndex(indexNoun, path: "index.noun"))
    }

    func tags(_ text: String) throws -> [String] { try Self.gazetteer().annotate(GlossTokenizer.tokens(text)) }

    @Test func parsesSynsetLines() throws {
        let s = try Self.synsets()
        #expect(s.count == 18)  // the licence line is skipped
        #expect(s[2].words == ["London", "Jack London"])
        #expect(s[2].lexFile == 18 && s[2].isInstance && s[2].entityType == "PER")
        #expect(s[8].isInstance == false)  // ~i (instance hyponym) is not @i
        #expect(s[4].entityType == "ORG" && s[5].entityType == "MISC" && s[17].entityType == "MISC")
        #expect(s[0].glossSentences == ["the largest city in New York State", "she moved to New York City"])
    }

    @Test func malformedLinesNameFileAndLine() {
        #expect(throws: WordNetError.self) { try WordNetReader.parse("00000100 15 n zz New_York 0 000 | x", path: "data.noun") }
        do {
            _ = try WordNetReader.parse("\n00000100 15 n 01 New_York 0 003 @i 00000900 n 0000 | x", path: "data.noun")
            Issue.record("a line ending inside its pointers must be rejected")
        } catch let e as WordNetError {
            #expect(e.description.hasPrefix("data.noun:2: the line ends inside its 3 pointers"))
            #expect(!e.description.contains("\n"))
        } catch { Issue.record("unexpected \(error)") }
        #expect(throws: WordNetError.self) { try WordNetReader.parseIndex("london n 2 1 @ 2 1 00000400", path: "index.noun") }
    }

    @Test func tokenizerSplitsPunctuationAndKeepsAbbreviations() {
        #expect(GlossTokenizer.tokens("the U.S. capital (Washington, D.C.); \"John F. Kennedy's\" plane.") == [
            "the", "U.S.", "capital", "(", "Washington", ",", "D.C.", ")", ";", "\"", "John", "F.", "Kennedy", "'s", "\"", "plane", ".",
        ])
        // "St." is a listed abbreviation, "Mo." is not; an ellipsis stays one token.
        #expect(GlossTokenizer.tokens("St. Louis, Mo. ... end") == ["St.", "Louis", ",", "Mo", ".", "...", "end"])
    }

    @Test func longestMatchWins() throws {
        // New York City (3 tokens) beats New York (2) at the same start.
        #expect(try tags("she moved to New York City") == ["O", "O", "O", "B-LOC", "I-LOC", "I-LOC"])
        #expect(try tags("the Beatles played in New York City and Liverpool")
            == ["O", "B-ORG", "O", "O", "B-LOC", "I-LOC", "I-LOC", "O", "B-LOC"])
        #expect(try tags("the Bible was read in London") == ["O", "B-MISC", "O", "O", "O", "B-LOC"])
    }

    @Test func senseOrderDecidesTheType() throws {
        // London: the first sense spelled "London" in index.noun is the city (LOC), although
        // the writer's synset also holds "London"; "Jack London" is only a person.
        #expect(try tags("he lives in London") == ["O", "O", "O", "B-LOC"])
        #expect(try tags("King spoke to Jack London") == ["O", "O", "O", "B-PER", "I-PER"])
        // Mercury: planet (noun.object → MISC) comes first.
        #expect(try Self.gazetteer().type(of: "Mercury") == "MISC")
        // Without the index, the vote ties (PER 1, MISC 1) and PER wins by priority.
        #expect(EntityGazetteer(synsets: try Self.synsets()).type(of: "Mercury") == "PER")
    }

    @Test func neighbourAndSentenceStartRules() throws {
        // "New York" touches "State" / "Times": part of a longer unknown name, not tagged.
        #expect(try tags("the largest city in New York State") == ["O", "O", "O", "O", "O", "O", "O"])
        #expect(try tags("New York Times reporters visited England") == ["O", "O", "O", "O", "O", "B-LOC"])
        // "Reading" first in a sentence is the ordinary word; elsewhere it is the town.
        #expect(try tags("Reading is fun") == ["O", "O", "O"])
        #expect(try tags("he moved to Reading") == ["O", "O", "O", "B-LOC"])
        // "King" is a one-token person name that is also a common lemma: left out.
        #expect(try Self.gazetteer().type(of: "King") == nil)
        // Whole tokens only: "Londoners" is no match, "London" before "'s" is.
        #expect(try tags("London's docks and Londoners") == ["B-LOC", "O", "O", "O", "O"])
    }

    @Test func builderIsDeterministicAndSplitsAsAsked() throws {
        var b = WordNetNERBuilder()
        b.trainCount = 4
        b.devCount = 2
        b.testCount = 2
        b.minTokens = 3
        b.entityFreeFraction = 0.25
        b.minSentencesPerType = 1
        let index = try WordNetReader.parseIndex(Self.indexNoun, path: "index.noun")
        let a = try b.build(synsets: try Self.synsets(), nounIndex: index)
        let again = try b.build(synsets: try Self.synsets(), nounIndex: index)
        #expect(a.train == again.train && a.dev == again.dev && a.test == again.test)
        #expect((a.train.count, a.dev.count, a.test.count) == (4, 2, 2))
        let all = a.train + a.dev + a.test
        #expect(Set(all).count == 8)
        // 25% of 8 = 2 sentences without entities; ORG (the rarest type) is present.
        #expect(all.filter { !$0.tags.contains { $0 != "O" } }.count == 2)
        #expect(all.contains { $0.tags.contains("B-ORG") })
        // Each split is valid CoNLL that reads back to the same tokens and tags.
        for split in [a.train, a.dev, a.test] {
            let file = try CoNLLReader().parse(try WordNetNERCorpus.conll(split), path: "split")
            #expect(file.sentences.map(\.tokens) == split.map(\.tokens))
            #expect(file.sentences.map(\.tags) == split.map(\.tags))
        }
        b.seed = 7
        let other = try b.build(synsets: try Self.synsets(), nounIndex: index)
        #expect(other.train + other.dev + other.test != all)
        b.trainCount = 100
        #expect(throws: WordNetError.self) { try b.build(synsets: try Self.synsets(), nounIndex: index) }
    }
}

/// The committed `data/text` files: what `ner-tune build-wordnet` makes from Debian's
/// wordnet-base, checked byte for byte (needs `apt-get install wordnet-base`).
@Suite struct WordNetEmbeddedDataTests {
    static let dataDirectory = TestPaths.packageRoot.appendingPathComponent("data/text")

    @Test func embeddedFilesAreValidAndSized() throws {
        let reader = CoNLLReader()
        var files: [CoNLLFile] = []
        for name in WordNetNERCorpus.fileNames {
            files.append(try reader.read(path: Self.dataDirectory.appendingPathComponent(name).path))
        }
        #expect(files.map(\.sentences.count) == [2000, 400, 400])
        let labels = NERLabels(inferredFrom: files[0])
        #expect(labels.entityTypes == ["LOC", "MISC", "ORG", "PER"])
        try labels.validate(files[1], trainingPath: "train.conll")
        try labels.validate(files[2], trainingPath: "train.conll")
    }

    @Test func rebuildingFromWordNetReproducesTheFiles() throws {
        guard FileManager.default.fileExists(atPath: WordNetReader.defaultDirectory + "/data.noun") else {
            Issue.record("WordNet is not installed: run `apt-get install wordnet-base` (make deps does)")
            return
        }
        let corpus = try WordNetNERBuilder().build()
        for (name, split) in zip(WordNetNERCorpus.fileNames, [corpus.train, corpus.dev, corpus.test]) {
            let committed = try String(contentsOf: Self.dataDirectory.appendingPathComponent(name), encoding: .utf8)
            #expect(try WordNetNERCorpus.conll(split) == committed, "\(name) differs from a fresh build")
        }
    }
}
