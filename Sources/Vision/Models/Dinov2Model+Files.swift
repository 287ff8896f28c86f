import Core
import Foundation

extension Dinov2Config {
    /// A Hugging Face `config.json` for these settings (readable by `init(json:)` and by transformers).
    public var jsonText: String {
        let ratio = Double(ffnWidth) / Double(hiddenSize)
        let fields: [(String, String)] = [
            ("architectures", "[\"Dinov2Model\"]"),
            ("model_type", "\"dinov2\""),
            ("hidden_size", "\(hiddenSize)"),
            ("num_hidden_layers", "\(numLayers)"),
            ("num_attention_heads", "\(numHeads)"),
            ("mlp_ratio", ratio == ratio.rounded() ? "\(Int(ratio))" : "\(ratio)"),
            ("hidden_act", "\"\(activation.huggingFaceName)\""),
            ("layer_norm_eps", "\(layerNormEps)"),
            ("image_size", "\(imageSize)"),
            ("patch_size", "\(patchSize)"),
            ("num_channels", "\(numChannels)"),
            ("qkv_bias", "\(qkvBias)"),
            ("layerscale_value", "\(layerScaleValue)"),
            ("use_swiglu_ffn", "false"),
            ("hidden_dropout_prob", "\(hiddenDropout)"),
            ("attention_probs_dropout_prob", "\(attentionDropout)"),
            ("drop_path_rate", "0.0"),
            ("initializer_range", "0.02"),
            ("torch_dtype", "\"float32\""),
        ]
        return "{\n" + fields.map { "  \"\($0.0)\": \($0.1)" }.joined(separator: ",\n") + "\n}\n"
    }
}

extension Activation {
    /// The `hidden_act` string Hugging Face configs use for this activation.
    var huggingFaceName: String {
        switch self {
        case .gelu: "gelu"
        case .geluTanh: "gelu_new"
        case .relu: "relu"
        case .silu: "silu"
        case .quickGELU: "quick_gelu"
        }
    }
}

extension Dinov2ONNXImport {
    /// Writes `config.json` and `model.safetensors` (Hugging Face layout) into `directory`, each
    /// atomically; the weights go first so a folder with a config always has complete weights.
    public func save(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try SafeTensors.write(tensors, metadata: ["format": "pt", "source": "imported from \(URL(fileURLWithPath: file).lastPathComponent) by PEFTKit"],
                              to: directory.appendingPathComponent(WeightStore.singleFileName))
        try AtomicFile.write(config.jsonText, to: directory.appendingPathComponent("config.json"))
    }
}

extension Dinov2Model {
    /// Writes this model's weights (`model.safetensors`, HF keys) and `config.json` into `directory`.
    public func save(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let tensors = Dictionary(uniqueKeysWithValues: namedParameters())
        try SafeTensors.write(tensors, metadata: ["format": "pt"], to: directory.appendingPathComponent(WeightStore.singleFileName))
        try AtomicFile.write(config.jsonText, to: directory.appendingPathComponent("config.json"))
    }

    /// The DINOv2 backbone of an ONNX export. With `cacheDirectory`, the first call imports and saves
    /// the Hugging Face layout there; later calls load that folder directly (no ONNX parsing).
    public static func load(onnx url: URL, cacheDirectory: URL? = nil) throws -> Dinov2Model {
        let fm = FileManager.default
        if let cache = cacheDirectory,
           fm.fileExists(atPath: cache.appendingPathComponent("config.json").path),
           fm.fileExists(atPath: cache.appendingPathComponent(WeightStore.singleFileName).path) {
            return try load(directory: cache)
        }
        let imported = try Dinov2ONNXImport(contentsOf: url)
        if let cache = cacheDirectory { try imported.save(to: cache) }
        return try imported.makeModel()
    }
}
