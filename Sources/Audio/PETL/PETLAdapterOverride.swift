import Core

extension PETLClassifier {
    /// Attaches `config` (any adapter-library method) through a `PeftModel` over the backbone,
    /// on the attention projections its target names select (query, key, value, output — the
    /// `--lora-targets` names), in every layer. The module keys differ between AST and Whisper,
    /// so the names are resolved to this backbone's keys first.
    func attachOverride(_ config: AdapterConfig) throws -> PeftModel {
        guard case .names(let short)? = config.targetModules else {
            throw AdapterError.invalidSetting("an audio adapter override needs target names (query, key, value, output)")
        }
        let allowed: Set<String> = ["query", "key", "value", "output"]
        guard !short.isEmpty, short.allSatisfy(allowed.contains) else {
            throw AdapterError.invalidSetting("targets \(short.joined(separator: ",")) must list query, key, value or output")
        }
        var wanted: [ObjectIdentifier] = []
        for layer in backbone.encoder.layers.items {
            let a = layer.attention
            for t in short {
                let lin: Linear = t == "query" ? a.query : t == "key" ? a.key : t == "value" ? a.value : a.output
                wanted.append(ObjectIdentifier(lin))
            }
        }
        let keys = backbone.namedModules().compactMap { k, m in wanted.contains(ObjectIdentifier(m)) ? k : nil }
        var c = config
        c.targetModules = .names(keys)
        let peft = PeftModel(backbone)
        try peft.addAdapter(c)
        return peft
    }
}
