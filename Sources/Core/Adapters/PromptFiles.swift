import Foundation

/// peft's files for prompt learning: `adapter_config.json` with `PROMPT_TUNING` /
/// `PREFIX_TUNING` and `adapter_model.safetensors` holding one tensor `prompt_embeddings`
/// (no `base_model.model.` prefix, as peft saves prompt methods):
/// - prompt tuning: `[P, C]` (deep prompts, which peft lacks: `[L, P, C]` under
///   `PEFTKIT_DEEP_PROMPT_TUNING`);
/// - prefix tuning: `[P, L·2·C]`, the reparameterisation MLP already applied (peft saves the
///   projected values, so a loaded prefix is always flat).
///
/// ```swift
/// try PromptFiles.save(prefix, numHeads: 12, to: dir)
/// let back = try PromptFiles.loadPrefix(from: dir)
/// ```
public enum PromptFiles {
    static let key = "prompt_embeddings"

    /// Saves prompt tuning. `numLayers` / `numHeads` are recorded as peft records them.
    public static func save(_ prompts: PromptTuning, numLayers: Int, numHeads: Int, baseModel: String? = nil, to dir: URL) throws {
        let type = prompts.isDeep ? "PEFTKIT_DEEP_PROMPT_TUNING" : "PROMPT_TUNING"
        var cfg = common(type: type, tokens: prompts.length, width: prompts.width, layers: numLayers, heads: numHeads, baseModel: baseModel)
        cfg["prompt_tuning_init"] = "RANDOM"
        cfg["prompt_tuning_init_text"] = NSNull()
        cfg["tokenizer_name_or_path"] = NSNull()
        try write(cfg, [(key, prompts.embeddings.detached())], to: dir)
    }

    /// Saves prefix tuning in peft's layout (projected values; `prefix_projection` false so
    /// peft loads the stored values directly).
    public static func save(_ prefix: PrefixTuning, numHeads: Int, baseModel: String? = nil, to dir: URL) throws {
        var cfg = common(type: "PREFIX_TUNING", tokens: prefix.length, width: prefix.width, layers: prefix.layerCount, heads: numHeads, baseModel: baseModel)
        cfg["prefix_projection"] = false
        cfg["encoder_hidden_size"] = prefix.width
        try write(cfg, [(key, prefix.peftEmbedding())], to: dir)
    }

    /// Loads prompt tuning saved by peft or by `save` (trainable).
    public static func loadPrompts(from dir: URL) throws -> PromptTuning {
        let (cfg, t, file) = try read(dir, types: ["PROMPT_TUNING", "PEFTKIT_DEEP_PROMPT_TUNING"])
        let deep = cfg["peft_type"] as? String == "PEFTKIT_DEEP_PROMPT_TUNING"
        let tokens = try int(cfg, "num_virtual_tokens", file), width = try int(cfg, "token_dim", file)
        let layers = deep ? try int(cfg, "num_layers", file) : 1
        let expected = deep ? [layers, tokens, width] : [tokens, width]
        guard t.shape == expected else { throw AdapterError.shapeMismatch(file: file, key: key, expected: expected, found: t.shape) }
        let p = PromptTuning(length: tokens, width: width, layers: deep ? layers : nil, seed: 0)
        p.embeddings.storage = t.storage
        return p
    }

    /// Loads prefix tuning saved by peft or by `save`, as flat prefixes (trainable).
    public static func loadPrefix(from dir: URL) throws -> PrefixTuning {
        let (cfg, t, file) = try read(dir, types: ["PREFIX_TUNING"])
        let tokens = try int(cfg, "num_virtual_tokens", file), width = try int(cfg, "token_dim", file)
        let layers = try int(cfg, "num_layers", file)
        let expected = [tokens, layers * 2 * width]
        guard t.shape == expected else { throw AdapterError.shapeMismatch(file: file, key: key, expected: expected, found: t.shape) }
        return try PrefixTuning.fromPeftEmbedding(t, layers: layers)
    }

    private static func common(type: String, tokens: Int, width: Int, layers: Int, heads: Int, baseModel: String?) -> [String: Any] {
        [
            "peft_type": type, "num_virtual_tokens": tokens, "token_dim": width, "num_layers": layers,
            "num_attention_heads": heads, "num_transformer_submodules": 1, "inference_mode": true,
            "task_type": NSNull(), "base_model_name_or_path": baseModel.map { $0 as Any } ?? NSNull(), "revision": NSNull(),
        ]
    }

    private static func write(_ cfg: [String: Any], _ tensors: [(String, Tensor)], to dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let json = try JSONSerialization.data(withJSONObject: cfg, options: [.prettyPrinted, .sortedKeys])
        try atomicWrite(json, to: dir.appendingPathComponent("adapter_config.json"))
        try AdapterTensorFile.write(tensors, to: dir.appendingPathComponent("adapter_model.safetensors"))
    }

    private static func read(_ dir: URL, types: [String]) throws -> ([String: Any], Tensor, String) {
        let cfgURL = dir.appendingPathComponent("adapter_config.json")
        guard let data = try? Data(contentsOf: cfgURL),
            let cfg = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        else { throw AdapterError.badConfig(file: cfgURL.path, detail: "cannot be read as a JSON object") }
        guard let type = cfg["peft_type"] as? String, types.contains(type) else {
            throw AdapterError.badConfig(file: cfgURL.path, detail: "peft_type \(cfg["peft_type"] ?? "missing") is not \(types.joined(separator: " or "))")
        }
        let wURL = dir.appendingPathComponent("adapter_model.safetensors")
        let tensors = try AdapterTensorFile.read(wURL)
        guard let t = tensors[key] else { throw AdapterError.missingKey(file: wURL.path, key: key) }
        return (cfg, t, wURL.path)
    }

    private static func int(_ cfg: [String: Any], _ k: String, _ file: String) throws -> Int {
        guard let n = cfg[k] as? NSNumber, !isJSONBool(n), n.intValue > 0 else {
            throw AdapterError.badConfig(file: file, detail: "'\(k)' must be a positive integer")
        }
        return n.intValue
    }
}
