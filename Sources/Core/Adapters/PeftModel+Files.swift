import Foundation

/// What `PeftModel.load` found besides the adapter itself.
public struct AdapterLoadReport: Sendable {
    public let injection: InjectionReport
    /// Config keys that were ignored, and similar notes.
    public let warnings: [String]
    /// File tensors no module used (listed, not fatal, as peft does).
    public let unusedKeys: [String]
}

/// Hugging Face PEFT files: `adapter_config.json` + `adapter_model.safetensors` with keys
/// `base_model.model.<module path>.<adapter key>` (the adapter name stripped, as peft saves).
extension PeftModel {
    /// peft's prefix for non-prompt adapters.
    public static let keyPrefix = "base_model.model."

    /// The tensors `save` writes for adapter `name`, under their file keys.
    public func adapterStateDict(_ name: String = "default") throws -> [(String, Tensor)] {
        guard let rec = records[name] else { throw AdapterError.unknownAdapter(name: name, available: configs.map(\.name)) }
        var out: [(String, Tensor)] = []
        for a in rec.attachments {
            for (k, t) in a.adapter.stateEntries() { out.append((PeftModel.keyPrefix + a.key + "." + k, t)) }
        }
        let disabled = !adaptersEnabled
        for s in rec.selected {
            // While adapters are disabled the trained values sit in `original` (swapped).
            let values = disabled ? s.original : s.tensor.storage
            out.append((PeftModel.keyPrefix + s.key, Tensor(values, shape: s.tensor.shape)))
        }
        return out
    }

    /// The config as written to disk. The reduction-factor convention is rewritten in peft's
    /// own terms (r = the layer rank, lora_alpha = alpha·r/RR, per-layer patterns when ranks
    /// differ), which gives the same scale alpha/RR, so Python peft loads it unchanged.
    public func savedConfig(_ name: String = "default") throws -> AdapterConfig {
        guard var c = config(name), let rec = records[name] else { throw AdapterError.unknownAdapter(name: name, available: configs.map(\.name)) }
        if let rr = c.reductionFactor, c.method == .lora {
            let ranks = rec.attachments.map { ($0.key, ($0.adapter as? LoRA)?.rank ?? 0) }
            let common = ranks.first?.1 ?? 1
            let alpha = c.loraAlpha
            c.reductionFactor = nil
            c.r = common
            c.loraAlpha = alpha * Float(common) / Float(rr)
            for (k, rank) in ranks where rank != common {
                c.rankPattern[k] = rank
                c.alphaPattern[k] = alpha * Float(rank) / Float(rr)
            }
            if c.initLoraWeights == .kaimingB { c.initLoraWeights = .kaimingA }
        }
        return c
    }

    /// Writes `adapter_config.json` and `adapter_model.safetensors` for adapter `name` into
    /// `directory` (created if needed; each file written to a temporary name, then renamed).
    public func save(to directory: URL, adapter name: String = "default") throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var cfg = try savedConfig(name)
        cfg.inferenceMode = true
        try atomicWrite(try cfg.encodeJSON(), to: directory.appendingPathComponent("adapter_config.json"))
        // RandLoRA with save_projection: peft also wants the model-level shared bases.
        let shared = cfg.method == .randLoRA && cfg.zoo.saveProjection ? randLoRASharedBases(name) : []
        try AdapterTensorFile.write(try adapterStateDict(name) + shared, to: directory.appendingPathComponent("adapter_model.safetensors"))
    }

    /// Reads an adapter saved by peft or by `save` and adds it as `name` (the first adapter
    /// becomes active). Missing tensors and shape mismatches are errors naming the key; the
    /// adapter is removed again on failure. `trainable: false` (peft's default) freezes it.
    @discardableResult
    public func load(from directory: URL, adapter name: String = "default", trainable: Bool = false) throws -> AdapterLoadReport {
        let configURL = directory.appendingPathComponent("adapter_config.json")
        guard let data = try? Data(contentsOf: configURL) else {
            throw AdapterError.badConfig(file: configURL.path, detail: "cannot be read; is this a PEFT adapter folder?")
        }
        let (config, warnings) = try AdapterConfig.decode(data, file: configURL.path)
        let weightsURL = directory.appendingPathComponent("adapter_model.safetensors")
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            throw AdapterError.badFile(file: weightsURL.path, detail: "is missing (only safetensors adapters are supported; convert adapter_model.bin first)")
        }
        let tensors = try AdapterTensorFile.read(weightsURL)
        let report: InjectionReport
        do {
            report = try addAdapter(config, name: name)
        } catch let error as AdapterError {
            // Injection problems (no module matched, a rank too large) come from the config file:
            // name it, so the user knows which folder does not fit this model.
            if case .badConfig = error { throw error }
            throw AdapterError.badConfig(file: configURL.path, detail: error.description)
        }
        do {
            let used = try assign(tensors, to: name, file: weightsURL.path)
            try validateZooLoad(name, tensors: tensors, file: weightsURL.path)
            if !trainable { setTrainable(name, false) }
            let unused = tensors.keys.filter { !used.contains($0) }.sorted()
            return AdapterLoadReport(injection: report, warnings: warnings, unusedKeys: unused)
        } catch {
            try? deleteAdapter(name)
            throw error
        }
    }

    /// Copies file tensors into adapter `name`; returns the keys used.
    func assign(_ tensors: [String: Tensor], to name: String, file: String) throws -> Set<String> {
        var used = Set<String>()
        for (key, target) in try adapterStateDict(name) {
            guard let src = tensors[key] else { throw AdapterError.missingKey(file: file, key: key) }
            guard src.shape == target.shape else { throw AdapterError.shapeMismatch(file: file, key: key, expected: target.shape, found: src.shape) }
            used.insert(key)
        }
        // All checked: now write (so a failure above leaves nothing half-loaded).
        guard let rec = records[name] else { return used }
        for a in rec.attachments {
            for (k, t) in a.adapter.stateEntries() { t.storage = tensors[PeftModel.keyPrefix + a.key + "." + k]!.storage }
        }
        for s in rec.selected { s.tensor.storage = tensors[PeftModel.keyPrefix + s.key]!.storage }
        return used
    }

    /// Freezes or unfreezes adapter `name`'s own parameters (and its unfrozen base ones).
    public func setTrainable(_ name: String, _ on: Bool) {
        guard let rec = records[name] else { return }
        for a in rec.attachments { for (_, p) in a.adapter.stateEntries() { p.requiresGrad = on } }
        for s in rec.selected { s.tensor.requiresGrad = on }
    }
}
