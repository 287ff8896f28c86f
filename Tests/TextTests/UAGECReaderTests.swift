import Foundation
import Testing
@testable import Text

/// The UA-GEC reader on a small corpus folder written here in UA-GEC's own layout and inline
/// annotation format (README of github grammarly/ua-gec: `{error=>correction:::error_type=Tag}`,
/// `|` between alternative corrections, `NO_SUGGESTIONS`, `\n` escapes, `<doc>.a<k>.ann` files,
/// `metadata.csv`). The expected sentences are worked out by hand from those rules.
@Suite("UA-GEC reader")
struct UAGECReaderTests {
    @Test func parsesInlineAnnotations() {
        let text = "Я {ходив=>ходила:::error_type=G/Gender} до школи{=>,:::error_type=Punctuation} і {все=>усе|все:::error_type=Spelling}.\n\n{Нажаль=>На жаль} {так=>NO_SUGGESTIONS}, {a{b=>c} {x=>y\\nz}\n"
        let p = UAGECReader.parse(text)
        #expect(p.count == 2)
        #expect(p[0] == .init(line: 1, source: "Я ходив до школи і все.", target: "Я ходила до школи, і усе."))
        // "{a{b=>c}": the first brace has no arrow before the next brace, so it stays text.
        #expect(p[1] == .init(line: 3, source: "Нажаль так, {ab x", target: "На жаль так, {ac y z"))
    }

    @Test func tokenizesPunctuationApartFromWords() {
        #expect(UAGECReader.tokenize("Мені з’явилося, Instagram-блог — ок (так)!") ==
                ["Мені", "з’явилося", ",", "Instagram-блог", "—", "ок", "(", "так", ")", "!"])
        #expect(UAGECReader.tokenize("  -a b- ") == ["-", "a", "b", "-"])
    }

    @Test func readsACorpusFolderWithDomainsAndTwoAnnotators() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("uagec-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        func write(_ rel: String, _ text: String) throws {
            let url = root.appendingPathComponent(rel)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        try write("metadata.csv", "id,author_id,is_native,region,gender,occupation,submission_type,source_language,annotator_id,partition,is_sensitive\n0001,1,1,\"Київська, область\",Жіноча,Технічна,essay,,1,train,0\n0002,2,0,Інше,Чоловіча,Інша,translation,en,1,train,0\n0003,3,1,Інше,Чоловіча,Інша,essay,,1,test,0\n")
        var essay = ""
        for i in 0..<10 { essay += "Речення {номер=>номер:::error_type=Spelling} \(i){=>.}\n" }
        try write("gec-only/train/annotated/0001.a1.ann", essay)
        try write("gec-only/train/annotated/0002.a1.ann", "Я {йти=>ходжу} до школи.\n")
        try write("gec-only/test/annotated/0003.a1.ann", "Він {прийшов=>прийшла} додому.\n")
        try write("gec-only/test/annotated/0003.a2.ann", "Він {прийшов=>пішов} додому.\n")
        let data = try GECDomainData.read(folder: root.appendingPathComponent("gec-only").path)
        #expect(data.domains.map(\.name) == ["essay", "translation"])
        let essayDomain = data.domains[0]
        // 10 training paragraphs, 10 % of them (seeded) held out as dev.
        #expect(essayDomain.train.count == 9 && essayDomain.dev.count == 1)
        #expect(essayDomain.test == [GECExample(source: "Він прийшов додому .", references: ["Він прийшла додому .", "Він пішов додому ."], category: "essay")])
        #expect(data.domains[1].train == [GECExample(source: "Я йти до школи .", references: ["Я ходжу до школи ."], category: "translation")])
        #expect(essayDomain.train.allSatisfy { $0.references[0].hasSuffix(" .") && !$0.source.hasSuffix(".") })
    }
}
