import Core
import Foundation

/// A BERT-family token classifier for NER with its tokenizer, label set and adapter: what
/// `ner-tune` trains, saves, reloads, evaluates and runs.
///
/// Saved as a Hugging Face PEFT folder: `adapter_config.json` + `adapter_model.safetensors`
/// (LoRA/DoRA tensors, or selected parameters for `head`/`full`, with the head under
/// `modules_to_save = ["classifier"]`, keys `base_model.model.classifier.weight` …), plus
/// `label_map.json` (id2label, label2id, base model, window settings).
///
/// ```swift
/// let tagger = try NERTagger.load(adapter: "runs/ner-lora")
/// let tags = try tagger.predict([["Einstein", "was", "born", "in", "Ulm"]])
/// ```
public final class NERTagger {
    public let model: BertForTokenClassification
    public let tokenizer: WordPieceTokenizer
    public let labels: NERLabels
    public let peft: PeftModel
    public let method: NERMethod
    /// The base model folder the adapter sits on.
    public let modelFolder: String
    public let maxLength: Int
    public let windowOverlap: Int
    /// Windows per forward pass when predicting.
    public var batchSize = 64
    /// What the adapter injection reported (matched modules, trainable count).
    public let injection: InjectionReport

    /// The name of the label file beside the adapter files.
    public static let labelMapFile = "label_map.json"

    /// A new tagger for training: the base model with a fresh seeded head of `labels.count`
    /// classes and the adapter `options.method` describes.
    public convenience init(modelFolder: String, labels: NERLabels, options: NERTrainingOptions) throws {
        try self.init(modelFolder: modelFolder, labels: labels, method: options.method, maxLength: options.maxLength,
                      windowOverlap: options.windowOverlap, seed: options.seed) { peft in
            try peft.addAdapter(Self.adapterConfig(options, modelFolder: modelFolder))
        }
    }

    init(modelFolder: String, labels: NERLabels, method: NERMethod, maxLength: Int, windowOverlap: Int, seed: UInt64,
         attach: (PeftModel) throws -> InjectionReport) throws {
        let (model, tokenizer) = try BertForTokenClassification.load(folder: modelFolder, labels: labels.labels, seed: seed)
        let positions = model.bert.config.maxPositionEmbeddings
        guard maxLength <= positions else { throw NERTaskError.tooLong(maxLength: maxLength, modelMaximum: positions) }
        self.model = model
        self.tokenizer = tokenizer
        self.labels = labels
        self.method = method
        self.modelFolder = modelFolder
        self.maxLength = maxLength
        self.windowOverlap = windowOverlap
        peft = PeftModel(model)
        injection = try attach(peft)
    }

    /// The PEFT config of a training run. The head always trains and is saved as
    /// `modules_to_save`; `head` and `full` select existing parameters by name instead of
    /// attaching low-rank adapters.
    public static func adapterConfig(_ o: NERTrainingOptions, modelFolder: String) -> AdapterConfig {
        var c: AdapterConfig
        switch o.method {
        case .lora, .dora:
            c = AdapterConfig.lora(r: o.rank, alpha: o.alpha, targets: o.targets)
            c.useDoRA = o.method == .dora
        case .head:
            c = AdapterConfig(method: .parameterSelection)
            c.parameterPatterns = ["classifier\\.(weight|bias)"]
        case .full:
            c = AdapterConfig(method: .parameterSelection)
            c.parameterPatterns = [".*"]
        }
        c.modulesToSave = ["classifier"]
        c.taskType = "TOKEN_CLS"
        c.baseModelNameOrPath = modelFolder
        c.seed = o.seed
        return c
    }

    // MARK: - Files

    /// Reloads a tagger saved by `save(to:)` (or by peft with the same layout and a label map).
    /// `model` overrides the base folder recorded in the label map.
    public static func load(adapter folder: String, model: String? = nil) throws -> NERTagger {
        let map = try NERLabelMap.read(folder: folder)
        let labels = try map.labels(folder: folder)
        let base = try model ?? baseModel(recorded: map.baseModel, adapter: folder)
        let method = NERMethod(rawValue: map.method ?? "lora") ?? .lora
        let tagger = try NERTagger(modelFolder: base, labels: labels, method: method, maxLength: map.maxLength ?? 128,
                             windowOverlap: map.windowOverlap ?? 32, seed: 0) { peft in
            let report = try peft.load(from: URL(fileURLWithPath: folder))
            guard report.injection.selectedParameters.contains("classifier.weight") else {
                throw NERTaskError.badAdapter(folder: folder, detail: "the adapter does not save the classification head (modules_to_save must contain \"classifier\"); it was not made for token classification")
            }
            return report.injection
        }
        // A loaded tagger is for inference: dropout off.
        tagger.model.eval()
        return tagger
    }

    /// The base model of a saved adapter: the recorded folder when it exists; the installed
    /// MiniLM when the recorded one was a MiniLM install elsewhere (runs move between
    /// machines); otherwise an error asking for `--model`, since another encoder would give
    /// wrong predictions or shape errors.
    static func baseModel(recorded: String?, adapter folder: String) throws -> String {
        guard let recorded else { return try DefaultModels.miniLM() }
        if FileManager.default.fileExists(atPath: (recorded as NSString).appendingPathComponent("config.json")) { return recorded }
        if recorded.hasSuffix(DefaultModels.miniLMRelativePath) { return try DefaultModels.miniLM() }
        throw NERTaskError.badAdapter(folder: folder, detail: "the base model \(recorded) recorded in \(labelMapFile) is not there; pass --model DIR with that model's folder")
    }

    /// Writes the adapter files and the label map into `directory` (each file atomically).
    public func save(to directory: URL) throws {
        try peft.save(to: directory)
        let map = NERLabelMap(labels: labels, baseModel: modelFolder, maxLength: maxLength, windowOverlap: windowOverlap, method: method.rawValue)
        try AtomicFile.write(try NERJSON.encode(map), to: directory.appendingPathComponent(Self.labelMapFile))
    }

    // MARK: - Prediction

    /// Label ids per word. Each word is read from the window that owns it, at its first
    /// sub-token; a word no token represents (e.g. only control characters) gets `O` (id 0).
    public func predictIDs(_ sentences: [[String]]) throws -> [[Int]] {
        let wasTraining = model.isTraining
        model.eval()
        defer { model.train(wasTraining) }
        let windows = NERFeatures.windows(sentences, labels: nil, tokenizer: tokenizer, maxLength: maxLength, overlap: windowOverlap)
        var out = sentences.map { [Int](repeating: 0, count: $0.count) }
        for indices in NERFeatures.evaluationBatches(windows, batchSize: batchSize) {
            let (input, _, _) = try NERFeatures.batch(windows, indices, tokenizer: tokenizer)
            let ids = try model.predict(input)
            for (row, w) in indices.enumerated() {
                let window = windows[w]
                let rowIDs = Array(ids[(row * input.length)..<((row + 1) * input.length)])
                let perWord = LabelAlignment.wordValues(tokenValues: rowIDs, wordIDs: window.encoding.wordIDs, wordCount: sentences[window.sentence].count)
                for word in window.ownedWords { if let v = perWord[word] { out[window.sentence][word] = v } }
            }
        }
        return out
    }

    /// IOB2 tags per word.
    public func predict(_ sentences: [[String]]) throws -> [[String]] {
        try predictIDs(sentences).map { $0.map(labels.label(of:)) }
    }

    /// Predicts `file` and scores it against its tags. A gold type the model does not know is
    /// an error naming the line (its entities could never be found).
    public func evaluate(_ file: CoNLLFile, labelSource: String = "the training file") throws -> (evaluation: NEREvaluation, predicted: [[String]]) {
        try labels.validate(file, trainingPath: labelSource)
        let predicted = try predict(file.sentences.map(\.tokens))
        return (try NEREvaluation(gold: file.sentences.map(\.tags), predicted: predicted), predicted)
    }
}

/// `label_map.json`: the label order of the head and how inputs were windowed.
public struct NERLabelMap: Codable, Sendable, Equatable {
    public var id2label: [String: String]
    public var label2id: [String: Int]
    public var baseModel: String?
    public var maxLength: Int?
    public var windowOverlap: Int?
    public var method: String?

    enum CodingKeys: String, CodingKey {
        case id2label, label2id
        case baseModel = "base_model_name_or_path"
        case maxLength = "max_length"
        case windowOverlap = "window_overlap"
        case method
    }

    public init(labels: NERLabels, baseModel: String?, maxLength: Int, windowOverlap: Int, method: String) {
        var i2l: [String: String] = [:], l2i: [String: Int] = [:]
        for (i, l) in labels.labels.enumerated() {
            i2l[String(i)] = l
            l2i[l] = i
        }
        id2label = i2l
        label2id = l2i
        self.baseModel = baseModel
        self.maxLength = maxLength
        self.windowOverlap = windowOverlap
        self.method = method
    }

    /// Reads `folder/label_map.json`.
    public static func read(folder: String) throws -> NERLabelMap {
        let path = (folder as NSString).appendingPathComponent(NERTagger.labelMapFile)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw NERTaskError.badAdapter(folder: folder, detail: "no \(NERTagger.labelMapFile); pass a folder written by `ner-tune train --out`")
        }
        do {
            return try JSONDecoder().decode(NERLabelMap.self, from: data)
        } catch {
            throw NERTaskError.badAdapter(folder: folder, detail: "\(NERTagger.labelMapFile) is not a label map (\(error.localizedDescription)); it needs id2label and label2id objects")
        }
    }

    /// The label set, checked to be `O` then `B-`/`I-` per type in the order `NERLabels` uses.
    public func labels(folder: String) throws -> NERLabels {
        var ordered: [String] = []
        for i in 0..<id2label.count {
            guard let l = id2label[String(i)] else {
                throw NERTaskError.badAdapter(folder: folder, detail: "\(NERTagger.labelMapFile): id2label has no id \(i); ids must be 0…\(id2label.count - 1)")
            }
            ordered.append(l)
        }
        let types = ordered.compactMap { l in ParsedTag(l).flatMap { $0.prefix == nil ? nil : $0.type } }
        let set = NERLabels(entityTypes: types)
        guard set.labels == ordered else {
            throw NERTaskError.badAdapter(folder: folder, detail: "\(NERTagger.labelMapFile): labels \(ordered) are not in the order O, B-T, I-T (types sorted); write them in that order")
        }
        return set
    }
}
