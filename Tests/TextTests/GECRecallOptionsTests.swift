import Core
import Foundation
import Testing
import TestSupport
@testable import Text

/// The recall options of `gec-cl`: the `$KEEP`-weighted cross-entropy equals the weighted mean
/// of per-token cross-entropies computed by hand from the logits, and the head warm-up trains
/// the head alone (the encoder adapter's weights keep their exact bits and stay trainable).
@Suite("GEC recall options on MiniLM")
struct GECRecallOptionsTests {
    static let pairs: [(String, String)] = [
        ("the the cat sat on a mat .", "the cat sat on a mat ."),
        ("a dog ran ran home .", "a dog ran home ."),
        ("she likes green green tea .", "she likes green tea ."),
        ("we saw a big big house .", "we saw a big house ."),
    ]

    static func tagger() throws -> (GECTagger, [GECTrainingItem]) {
        let folder = try Fixtures.miniLMFolder()
        let examples = pairs.map { GECExample(source: $0.0, references: [$0.1]) }
        let vocab = GECTagVocabulary.build(pairs: examples.map { ($0.sourceTokens, GECTokens.split($0.references[0])) }, maxTags: 10)
        var o = GECModelOptions()
        o.seed = 7
        o.maxLength = 16
        let tagger = try GECTagger(modelFolder: folder, vocabulary: vocab, options: o)
        let items = examples.compactMap { tagger.trainingItem(source: $0.sourceTokens, target: GECTokens.split($0.references[0])) }
        return (tagger, items)
    }

    /// Reference: log-sum-exp cross-entropy per labelled token in Double, then
    /// `Σ w_i·CE_i / Σ w_i` with w = keep weight on `$KEEP` and 1 elsewhere.
    @Test func keepWeightedLossMatchesHandComputation() throws {
        let (tagger, items) = try Self.tagger()
        tagger.model.eval()   // no dropout: the logits below are the ones the loss sees
        let (input, labels) = try tagger.batch(items)
        let logits = try withoutGrad { try tagger.model.logits(input) }.storage
        let c = tagger.vocabulary.count
        var ce: [(keep: Bool, value: Double)] = []
        for (row, label) in labels.enumerated() where label != LabelAlignment.ignoreIndex {
            let z = logits[(row * c)..<((row + 1) * c)].map(Double.init)
            let m = z.max()!
            let lse = m + Foundation.log(z.reduce(0) { $0 + Foundation.exp($1 - m) })
            ce.append((label == GECTagVocabulary.keepID, lse - z[label]))
        }
        #expect(ce.contains { $0.keep } && ce.contains { !$0.keep })
        for w in [1.0, 0.25, 3.0] {
            tagger.keepWeight = Float(w)
            let num = ce.reduce(0.0) { $0 + ($1.keep ? w : 1) * $1.value }
            let den = ce.reduce(0.0) { $0 + ($1.keep ? w : 1) }
            let got = Double(try withoutGrad { try tagger.loss(items) }.item)
            #expect(abs(got - num / den) < 1e-5 * max(1, num / den), "weight \(w): \(got) vs \(num / den)")
            #expect(abs(tagger.lossWeight(items) - den) < 1e-9)
        }
    }

    @Test func headWarmUpTrainsTheHeadAlone() throws {
        let (tagger, items) = try Self.tagger()
        var o = GECContinualOptions()
        o.headWarmupEpochs = 2
        o.batchSize = 2
        o.keepLabelShare = 1
        let runner = GECContinualRunner(options: o)
        let params = tagger.trainableParameters()
        let isHead = { (n: String) in n.hasPrefix("classifier.") }
        #expect(params.contains { isHead($0.0) } && params.contains { !isHead($0.0) })
        let before = params.map { $0.1.storage }
        let lossBefore = Double(try withoutGrad { tagger.model.eval(); return try tagger.loss(items) }.item)
        try runner.warmUpHead("d", items, tagger: tagger, params: params)
        for (k, (name, p)) in params.enumerated() {
            if isHead(name) { #expect(p.storage != before[k], "\(name) did not train") }
            else { #expect(p.storage == before[k], "\(name) changed during the head warm-up") }
            #expect(p.requiresGrad, "\(name) left frozen")
            #expect(p.gradStorage.map { $0.allSatisfy { $0 == 0 } } ?? true, "\(name) left a gradient")
        }
        let lossAfter = Double(try withoutGrad { tagger.model.eval(); return try tagger.loss(items) }.item)
        #expect(lossAfter < lossBefore, "\(lossBefore) → \(lossAfter)")
    }
}
