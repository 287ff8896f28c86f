import Core
import Foundation

/// What part of the tagger trains.
public enum GECMethod: String, Sendable, CaseIterable, Codable {
    /// LoRA on the target Linears plus the head (the default).
    case lora
    /// DoRA on the same Linears plus the head.
    case dora
    /// Every encoder and head parameter.
    case full
    /// The head alone.
    case head
}

/// How the tagger is built.
public struct GECModelOptions: Sendable, Equatable {
    public var method: GECMethod = .lora
    public var rank = 8
    public var alpha: Float = 16
    public var targets = ["query", "value"]
    /// Model positions per sentence, `[CLS]` and `[SEP]` included; longer sentences are
    /// truncated (their tail is kept as is).
    public var maxLength = 128
    public var seed: UInt64 = 42
    /// Any adapter-library config (LoRA, DoRA, the zoo) as the encoder adapter of the `lora` and
    /// `dora` methods; used by `gec-cl compare`. Target names as in `targets`. nil: `method`'s own.
    public var adapterOverride: AdapterConfig?
    public init() {}
}

/// Knobs of iterative correction (GECToR's inference tweaks).
public struct GECCorrectionOptions: Sendable, Equatable, Codable {
    /// Tagging rounds; each applies the predicted edits and tags the result again. Stops early
    /// when a round changes nothing.
    public var iterations = 3
    /// Added to the `$KEEP` probability before the arg-max (> 0 makes the tagger more conservative).
    public var keepBias: Float = 0
    /// A non-keep tag whose probability is below this is not applied.
    public var minConfidence: Float = 0
    public init() {}
}

/// A training input: a sentence's `[CLS] pieces… [SEP]` with one tag id per token (the start
/// slot at `[CLS]`, each word's slot at its first sub-token, -100 elsewhere and for tags
/// outside the vocabulary).
public struct GECTrainingItem: Sendable {
    public var encoding: Encoding
    public var labels: [Int]
}

/// A GECToR-style edit tagger: a BERT-family encoder with a token-classification head over a
/// tag vocabulary (`GECTagVocabulary`), adapted by LoRA, DoRA, full fine-tuning or the head
/// alone through `PeftModel`. Correction tags every token, applies the edits and repeats.
///
/// The head lives in a parameter-selection adapter named `head` (always active and trainable),
/// so encoder adapters can be added per task (O-LoRA) or one for the whole run.
///
/// ```swift
/// let tagger = try GECTagger(modelFolder: dir, vocabulary: vocab, options: GECModelOptions())
/// let fixed = try tagger.correct([["She", "go", "home", "."]])
/// ```
public final class GECTagger {
    public let model: BertForTokenClassification
    public let tokenizer: WordPieceTokenizer
    public let vocabulary: GECTagVocabulary
    public let peft: PeftModel
    public let options: GECModelOptions
    public let modelFolder: String
    /// Names of the encoder adapters, oldest first (one, or one per task for O-LoRA).
    public private(set) var encoderAdapters: [String] = []
    public var batchSize = 32

    public static let tagFile = "gec_tags.json"
    public static let headAdapter = "head"

    /// A tagger with a fresh seeded head; `encoderAdapter` names the first encoder adapter
    /// (none for `head`).
    public init(modelFolder: String, vocabulary: GECTagVocabulary, options: GECModelOptions, encoderAdapter: String? = "default") throws {
        guard vocabulary.count >= 2 else { throw GECError.unusable("the tag vocabulary needs at least $KEEP and $DELETE") }
        let (model, tokenizer) = try BertForTokenClassification.load(folder: modelFolder, labels: vocabulary.labels, seed: options.seed)
        let positions = model.bert.config.maxPositionEmbeddings
        guard options.maxLength >= 8, options.maxLength <= positions else {
            throw GECError.badOption("--max-length must be in 8…\(positions) for this model (got \(options.maxLength))")
        }
        self.model = model
        self.tokenizer = tokenizer
        self.vocabulary = vocabulary
        self.options = options
        self.modelFolder = modelFolder
        peft = PeftModel(model)
        var head = AdapterConfig(method: .parameterSelection)
        head.parameterPatterns = ["classifier\\.(weight|bias)"]
        head.taskType = "TOKEN_CLS"
        head.baseModelNameOrPath = modelFolder
        _ = try peft.addAdapter(head, name: Self.headAdapter)
        if options.method != .head, let name = encoderAdapter { try addEncoderAdapter(name) }
        try peft.setActiveAdapters([Self.headAdapter] + encoderAdapters)
    }

    /// The encoder adapter config of `options.method`.
    func encoderConfig() -> AdapterConfig {
        var c: AdapterConfig
        switch options.method {
        case .lora, .dora, .head:
            c = AdapterConfig.lora(r: options.rank, alpha: options.alpha, targets: options.targets)
            c.useDoRA = options.method == .dora
            if let o = options.adapterOverride, options.method != .head { c = o }
        case .full:
            c = AdapterConfig(method: .parameterSelection)
            c.parameterPatterns = ["bert\\..*"]
        }
        c.taskType = "TOKEN_CLS"
        c.baseModelNameOrPath = modelFolder
        c.seed = options.seed &+ UInt64(encoderAdapters.count)
        return c
    }

    /// Adds and activates a new encoder adapter; earlier ones stay active but frozen.
    public func addEncoderAdapter(_ name: String) throws {
        _ = try peft.addAdapter(encoderConfig(), name: name)
        encoderAdapters.append(name)
        try peft.setActiveAdapters([Self.headAdapter] + encoderAdapters)
        for old in encoderAdapters.dropLast() { peft.setTrainable(old, false) }
    }

    public func trainableParameters() -> [(String, Tensor)] { peft.trainableParameters() }

    /// Records adapters loaded from files as the tagger's encoder adapters.
    func restoreAdapters(_ names: [String]) { encoderAdapters = names }

    // MARK: - Features

    func encode(_ tokens: [String]) -> Encoding {
        tokenizer.encode(words: tokens, truncation: Truncation(maxLength: options.maxLength))
    }

    /// The training input of a pair; nil when the sentence gives no token.
    public func trainingItem(source: [String], target: [String]) -> GECTrainingItem? {
        let enc = encode(source)
        let tags = GECTagging.tags(source: source, target: target, transforms: vocabulary.transforms).map { vocabulary.id(of: $0) ?? LabelAlignment.ignoreIndex }
        var labels = LabelAlignment.tokenLabels(wordLabels: Array(tags.dropFirst()), wordIDs: enc.wordIDs)
        guard !labels.isEmpty else { return nil }
        // [CLS] carries the start slot (insertions before the first word).
        labels[0] = tags[0]
        return GECTrainingItem(encoding: enc, labels: labels)
    }

    /// A padded batch and its labels (-100 on padding).
    public func batch(_ items: [GECTrainingItem]) throws -> (input: BertInput, labels: [Int]) {
        let encoded = EncodedBatch(items.map(\.encoding), padID: tokenizer.padID, padToken: tokenizer.padToken)
        var labels: [Int] = []
        labels.reserveCapacity(encoded.batchSize * encoded.sequenceLength)
        for it in items {
            labels += it.labels
            labels += [Int](repeating: LabelAlignment.ignoreIndex, count: encoded.sequenceLength - it.labels.count)
        }
        return (try BertInput(encoded), labels)
    }

    /// Cross-entropy weight of `$KEEP` labels relative to edit tags (1: the plain token mean).
    public var keepWeight: Float = 1

    /// Weighted mean token cross-entropy of a batch (with autograd): `Σ w_i·CE_i / Σ w_i` with
    /// `w = keepWeight` on `$KEEP` tokens and 1 on edit tags. Computed as the two classes' plain
    /// means mixed by their shares of the weight, so the fused kernel does the work.
    public func loss(_ items: [GECTrainingItem]) throws -> Tensor {
        let (input, labels) = try batch(items)
        let logits = try model.logits(input)
        guard keepWeight != 1 else { return try model.loss(logits: logits, labels: labels) }
        let ignore = LabelAlignment.ignoreIndex, keep = GECTagVocabulary.keepID
        let keeps = labels.map { $0 == keep ? keep : ignore }
        let edits = labels.map { $0 == keep ? ignore : $0 }
        let nKeep = Double(keeps.count { $0 != ignore }), nEdit = Double(edits.count { $0 != ignore })
        let total = Double(keepWeight) * nKeep + nEdit
        guard nKeep > 0, nEdit > 0 else { return try model.loss(logits: logits, labels: labels) }
        let keepLoss = try model.loss(logits: logits, labels: keeps) * Float(Double(keepWeight) * nKeep / total)
        return keepLoss + (try model.loss(logits: logits, labels: edits)) * Float(nEdit / total)
    }

    /// The total weight of a batch's labelled tokens in `loss` (their count when `keepWeight`
    /// is 1): ranks and memory gradients average by it, so a split batch gives the whole batch's loss.
    public func lossWeight(_ items: [GECTrainingItem]) -> Double {
        var w = 0.0
        for it in items {
            for l in it.labels where l != LabelAlignment.ignoreIndex { w += l == GECTagVocabulary.keepID ? Double(keepWeight) : 1 }
        }
        return w
    }

    // MARK: - Prediction

    /// One tag per slot for each sentence (`tokens.count + 1`).
    public func predictTags(_ sentences: [[String]], options o: GECCorrectionOptions = GECCorrectionOptions()) throws -> [[GECTag]] {
        let wasTraining = model.isTraining
        model.eval()
        defer { model.train(wasTraining) }
        var out = sentences.map { [GECTag](repeating: .keep, count: $0.count + 1) }
        let order = sentences.indices.sorted { sentences[$0].count > sentences[$1].count }
        let v = vocabulary.count
        for start in stride(from: 0, to: order.count, by: max(batchSize, 1)) {
            let idx = Array(order[start..<min(start + batchSize, order.count)])
            let encs = idx.map { encode(sentences[$0]) }
            let encoded = EncodedBatch(encs, padID: tokenizer.padID, padToken: tokenizer.padToken)
            let logits = try withoutGrad { try model.logits(try BertInput(encoded)) }.storage
            let t = encoded.sequenceLength
            for (row, s) in idx.enumerated() {
                var firstToken = [Int: Int]()
                for (i, w) in encs[row].wordIDs.enumerated() { if let w, firstToken[w] == nil { firstToken[w] = i } }
                for slot in 0...sentences[s].count {
                    let pos = slot == 0 ? 0 : firstToken[slot - 1]
                    guard let pos else { continue }
                    let base = (row * t + pos) * v
                    let tagID = Self.choose(Array(logits[base..<(base + v)]), options: o)
                    var tag = vocabulary.tag(tagID)
                    if slot == 0, !(tag == .keep || { if case .append = tag { return true }; return false }()) { tag = .keep }
                    out[s][slot] = tag
                }
            }
        }
        return out
    }

    /// Softmax, keep bias, arg-max, minimum confidence.
    static func choose(_ logits: [Float], options o: GECCorrectionOptions) -> Int {
        let m = logits.max() ?? 0
        var p = logits.map { Foundation.exp($0 - m) }
        let z = p.reduce(0, +)
        for i in p.indices { p[i] /= z }
        p[GECTagVocabulary.keepID] += o.keepBias
        var best = 0
        for i in p.indices where p[i] > p[best] { best = i }
        if best != GECTagVocabulary.keepID && p[best] < o.minConfidence { return GECTagVocabulary.keepID }
        return best
    }

    /// Iterative correction: tag, apply, repeat on the sentences that changed.
    public func correct(_ sentences: [[String]], options o: GECCorrectionOptions = GECCorrectionOptions()) throws -> [[String]] {
        var current = sentences
        var active = Array(sentences.indices)
        for _ in 0..<max(o.iterations, 1) {
            guard !active.isEmpty else { break }
            let tags = try predictTags(active.map { current[$0] }, options: o)
            var next: [Int] = []
            for (k, s) in active.enumerated() {
                let fixed = GECTagging.apply(tags[k], to: current[s])
                // A correction that empties the sentence is not applied.
                if fixed != current[s], !fixed.isEmpty { current[s] = fixed; next.append(s) }
            }
            active = next
        }
        return current
    }

    /// GECToR's inference tweak tuned on held-out sentences: every (keep bias, minimum
    /// confidence) pair of the grid corrects `dev`, and the pair with the highest ERRANT F0.5
    /// wins (ties: the earlier pair, so the grid's order states the preference; the default grid
    /// starts with no bias). Dev scores only, never test.
    public func tuneCorrection(on dev: [GECExample], base: GECCorrectionOptions = GECCorrectionOptions(),
                               keepBiases: [Float] = [0, 0.1, 0.2, 0.3, 0.4], minConfidences: [Float] = [0, 0.3, 0.5])
        throws -> (options: GECCorrectionOptions, f05: Double) {
        var best = (options: base, f05: -1.0)
        for kb in keepBiases {
            for mc in minConfidences {
                var o = base
                o.keepBias = kb; o.minConfidence = mc
                let f = try evaluate(dev, options: o).score.counts.f05
                if f > best.f05 { best = (o, f) }
            }
        }
        return best
    }

    /// What `evaluate` returns: ERRANT (`cs`) and M² scores of the corrected sentences.
    public struct Evaluation {
        public var score: ERRANTScorer.CorpusResult
        public var maxMatch: MaxMatchScorer.CorpusResult?
        public var hypotheses: [String]
        /// Recall and precision per injected error type (`GECErrorTypes`).
        public var types: GECErrorTypes.Report
    }

    /// Corrects and scores examples (ERRANT `cs` mode; also the M² scorer when `maxMatch`).
    public func evaluate(_ examples: [GECExample], options o: GECCorrectionOptions = GECCorrectionOptions(), maxMatch: Bool = false) throws -> Evaluation {
        let hyps = try correct(examples.map(\.sourceTokens), options: o).map { $0.joined(separator: " ") }
        let src = examples.map(\.source), refs = examples.map(\.references)
        let score = try GECEvaluation.score(sources: src, hypotheses: hyps, references: refs)
        let m2 = maxMatch ? try GECEvaluation.maxMatch(sources: src, hypotheses: hyps, references: refs) : nil
        let types = GECErrorTypes.recall(sources: src, hypotheses: hyps, references: refs)
        return Evaluation(score: score, maxMatch: m2, hypotheses: hyps, types: types)
    }
}
