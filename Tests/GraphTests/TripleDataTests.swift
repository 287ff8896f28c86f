import Foundation
import Testing
@testable import Graph
import TestSupport

@Suite struct TripleDataTests {
    @Test func tabsAndSpacesBuildTrainVocabularies() throws {
        // Tabs allow spaces inside names; a line without tabs splits on runs of spaces; CRLF is fine.
        let train = "a b\tlikes\tc\n\n# comment\nc  likes   d\r\nd\thates\ta b\n"
        let kg = try KGDataset.parse(train: ("train.txt", train), valid: ("valid.txt", "c\tlikes\ta b\n"))
        #expect(kg.entities.names == ["a b", "c", "d"])
        #expect(kg.relations.names == ["likes", "hates"])
        #expect(kg.train == [Triple(0, 0, 1), Triple(1, 0, 2), Triple(2, 1, 0)])
        #expect(kg.valid == [Triple(1, 0, 0)])
        // Without a tab, "c likes a b" is 4 fields: malformed, not a name with a space.
        #expect(throws: GraphDataError.self) {
            _ = try KGDataset.parse(train: ("train.txt", train), valid: ("valid.txt", "c likes a b\n"))
        }
    }

    @Test func unknownNameInTestNamesFileLineAndName() {
        let train = "a\tr\tb\nb\tr\tc\n"
        do {
            _ = try KGDataset.parse(train: ("train.txt", train), test: ("test.txt", "a\tr\tc\n\nc\tr\tzebra\n"))
            Issue.record("expected an error for an entity missing from training")
        } catch let e as GraphDataError {
            #expect(e.message.hasPrefix("test.txt:3: entity 'zebra' does not occur in the training split"), "\(e)")
        } catch { Issue.record("unexpected error \(error)") }
        do {
            _ = try KGDataset.parse(train: ("train.txt", train), valid: ("valid.txt", "a\tq\tc\n"))
            Issue.record("expected an error for a relation missing from training")
        } catch let e as GraphDataError {
            #expect(e.message.hasPrefix("valid.txt:1: relation 'q' does not occur"), "\(e)")
        } catch { Issue.record("unexpected error \(error)") }
    }

    @Test func malformedLinesAndEmptyTrainingAreClearErrors() {
        let cases: [(String, String)] = [
            ("a\tr\tb\nonly two\n", "train.txt:2: expected 3 non-empty fields"),
            ("a\tr\tb\tc\n", "train.txt:1: expected 3 non-empty fields"),
            ("a\t\tb\n", "train.txt:1: expected 3 non-empty fields"),
            ("\n# nothing\n", "train.txt: no triples"),
        ]
        for (text, prefix) in cases {
            do {
                _ = try KGDataset.parse(train: ("train.txt", text))
                Issue.record("no error for \(text.debugDescription)")
            } catch let e as GraphDataError {
                #expect(e.message.hasPrefix(prefix), "\(e.message)")
            } catch { Issue.record("unexpected error \(error)") }
        }
    }

    @Test func duplicatesDroppedAndSelfLoopsKept() throws {
        let kg = try KGDataset.parse(train: ("t", "a r a\na r b\na r a\n"), test: ("s", "a r b\na r b\n"))
        #expect(kg.train == [Triple(0, 0, 0), Triple(0, 0, 1)])
        #expect(kg.test == [Triple(0, 0, 1)])
        #expect(kg.duplicatesDropped == ["train": 1, "test": 1])
    }

    @Test func folderLayoutLoadsAndMissingTrainIsAnError() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: GraphDataError.self) { _ = try KGDataset.load(folder: dir.path) }
        try "x\tr\ty\ny\tr\tz\n".write(to: dir.appendingPathComponent("train.txt"), atomically: true, encoding: .utf8)
        try "x\tr\tz\n".write(to: dir.appendingPathComponent("test.txt"), atomically: true, encoding: .utf8)
        let kg = try KGDataset.load(folder: dir.path)
        #expect(kg.train.count == 2 && kg.valid.isEmpty && kg.test == [Triple(0, 0, 2)])
        #expect(throws: GraphDataError.self) { _ = try KGDataset.load(folder: dir.appendingPathComponent("nope").path) }
    }
}
