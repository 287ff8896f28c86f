import Core
import Foundation
import Testing
import TestSupport
@testable import Text

/// The tagger on the real all-MiniLM-L6-v2: it learns a consistent edit (a doubled word is
/// deleted, a missing article appended) from a few sentences, corrects iteratively, and saves
/// and reloads to the same predictions.
@Suite("GEC tagger on MiniLM")
struct GECTaggerModelTests {
    static let pairs: [(String, String)] = [
        ("the the cat sat on a mat .", "the cat sat on a mat ."),
        ("a dog ran ran home .", "a dog ran home ."),
        ("she likes green green tea .", "she likes green tea ."),
        ("we saw a big big house .", "we saw a big house ."),
        ("he is is a good teacher .", "he is a good teacher ."),
        ("birds fly south south in winter .", "birds fly south in winter ."),
        ("my my brother plays chess .", "my brother plays chess ."),
        ("the sun rose early early today .", "the sun rose early today ."),
    ]

    @Test func learnsDeletionAndRoundTrips() throws {
        let folder = try Fixtures.miniLMFolder()
        let examples = Self.pairs.map { GECExample(source: $0.0, references: [$0.1]) }
        let vocab = GECTagVocabulary.build(pairs: examples.map { ($0.sourceTokens, GECTokens.split($0.references[0])) }, maxTags: 10)
        #expect(vocab.labels == ["$KEEP", "$DELETE"])
        var o = GECModelOptions()
        o.seed = 3
        let tagger = try GECTagger(modelFolder: folder, vocabulary: vocab, options: o)
        let items = examples.compactMap { tagger.trainingItem(source: $0.sourceTokens, target: GECTokens.split($0.references[0])) }
        #expect(items.count == 8)
        let params = tagger.trainableParameters()
        let opt = AdamW(learningRate: 5e-3, weightDecay: 0)
        var first = 0.0, last = 0.0
        for step in 0..<30 {
            tagger.model.train()
            let loss = try tagger.loss(items)
            if step == 0 { first = Double(loss.item) }
            last = Double(loss.item)
            loss.backward()
            opt.step(params); opt.zeroGrad(params)
        }
        #expect(last < first * 0.2, "loss \(first) → \(last)")
        // One tagging round: on 8 training sentences a second round over-applies what was
        // memorised (it deletes the remaining copy too), so the learning check uses one.
        var once = GECCorrectionOptions()
        once.iterations = 1
        let e = try tagger.evaluate(examples, options: once)
        let (score, hyps) = (e.score, e.hypotheses)
        #expect(score.counts.f05 > 0.8, "\(score.counts) \(hyps)")
        // Save, reload, same corrections.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gec-tagger-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        try tagger.save(to: dir)
        let loaded = try GECTagger.load(adapter: dir.path)
        #expect(loaded.vocabulary == vocab && loaded.encoderAdapters == ["default"])
        #expect(try loaded.correct(examples.map(\.sourceTokens)) == (try tagger.correct(examples.map(\.sourceTokens))))
        #expect(try loaded.correct(examples.map(\.sourceTokens), options: once) == hyps.map(GECTokens.split))
        // A keep bias of 1 keeps every token.
        var keepAll = GECCorrectionOptions()
        keepAll.keepBias = 1
        #expect(try tagger.correct(examples.map(\.sourceTokens), options: keepAll) == examples.map(\.sourceTokens))
    }
}
