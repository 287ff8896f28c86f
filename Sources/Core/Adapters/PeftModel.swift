/// What `PeftModel.addAdapter` did: which modules it adapted, which list targets found
/// nothing, which existing parameters it unfroze, and the resulting parameter counts.
public struct InjectionReport: CustomStringConvertible, Sendable {
    public let adapterName: String
    public let method: PeftMethod
    /// Module keys that received an adapter, in model order.
    public let matchedKeys: [String]
    /// Entries of a list `target_modules` that matched no module (peft's "unmatched targets").
    public let unmatchedTargets: [String]
    /// Existing parameters made trainable (selection, `bias`, `modules_to_save`).
    public let selectedParameters: [String]
    public let trainable: Int
    public let total: Int

    public var trainablePercent: Double { total == 0 ? 0 : 100 * Double(trainable) / Double(total) }

    public var description: String {
        var s = "adapter '\(adapterName)' (\(method.rawValue)): \(matchedKeys.count) module(s) adapted"
        if !selectedParameters.isEmpty { s += ", \(selectedParameters.count) parameter(s) unfrozen" }
        s += "; trainable \(trainable) of \(total) (\(String(format: "%.4f", trainablePercent))%)"
        if !unmatchedTargets.isEmpty { s += "; targets that matched nothing: \(unmatchedTargets.joined(separator: ", "))" }
        return s
    }
}

/// A frozen base model plus named adapters, with peft's life cycle: add, set active, disable,
/// delete, merge / unmerge, merge-and-unload, unload, save / load (see `PeftModel+Files`).
///
/// Adapters attach to the base model's own `Linear`s (no wrapper modules), so base keys do
/// not change and adapter keys appear beside them (`…query.lora_A.weight`). Only active
/// adapters are attached and trainable; inactive ones wait in the model's records.
///
/// ```swift
/// let peft = PeftModel(bert)
/// let report = try peft.addAdapter(.lora(r: 8, alpha: 16, targets: ["query", "value"]))
/// let opt = AdamW(peft.trainableParameters(), lr: 1e-3)
/// ```
public final class PeftModel {
    public let base: Module
    public internal(set) var configs: [(name: String, config: AdapterConfig)] = []
    public internal(set) var activeAdapters: [String] = []
    public internal(set) var adaptersEnabled = true

    struct Attachment {
        let key: String
        let layer: Linear
        let adapter: any ManagedLinearAdapter
    }

    /// An existing base parameter an adapter unfroze, with its value at selection time.
    struct Selected {
        let key: String
        let tensor: Tensor
        var original: [Float]
    }

    final class Record {
        var attachments: [Attachment] = []
        var selected: [Selected] = []
        /// Model-level helpers that live as long as the adapter (TriAdaptLoRA's growth coordinator).
        var observers: [AnyObject] = []
    }

    var records: [String: Record] = [:]
    private var baseFrozen = false

    public init(_ base: Module) { self.base = base }

    /// Every `Linear` in the base model with its dotted key (what targets can match).
    public var linearKeys: [String] { base.namedModules().compactMap { $0.1 is Linear ? $0.0 : nil } }

    /// Parameters that receive gradients: the active adapters' plus any unfrozen base ones.
    public func trainableParameters() -> [(String, Tensor)] { base.trainableParameters() }

    /// The config of adapter `name`.
    public func config(_ name: String) -> AdapterConfig? { configs.first { $0.name == name }?.config }

    /// Adds adapter `name` built from `config`. The first adapter becomes active; later ones
    /// stay inactive until `setActiveAdapters`. Throws (changing nothing) when the config is
    /// invalid, the name exists, or the targets match no module.
    @discardableResult
    public func addAdapter(_ config: AdapterConfig, name: String = "default") throws -> InjectionReport {
        try config.validate()
        guard !configs.contains(where: { $0.name == name }) else { throw AdapterError.duplicateAdapter(name: name) }
        if !baseFrozen {
            // peft's `_mark_only_adapters_as_trainable`: nothing of the base trains unless selected.
            base.freeze()
            baseFrozen = true
        }
        let record = Record()
        var matched: [String] = []
        var unmatched: [String] = []
        let modules = base.namedModules()
        if config.method == .parameterSelection {
            let regexes = try config.parameterPatterns.map { try Regex($0) }
            for (key, p) in base.namedParameters() where regexes.contains(where: { key.wholeMatch(of: $0) != nil }) {
                record.selected.append(Selected(key: key, tensor: p, original: p.storage))
            }
            if record.selected.isEmpty {
                throw AdapterError.invalidSetting(
                    "parameter_patterns \(config.parameterPatterns) matched no parameter; keys look like: \(base.namedParameters().prefix(12).map(\.0).joined(separator: ", "))")
            }
        } else if let spec = config.targetSpec {
            let saved = config.modulesToSave ?? []
            let linears = modules.compactMap { k, m in (m as? Linear).map { (k, $0) } }
            // peft never puts an adapter inside a modules_to_save module.
            let hits = linears.filter { spec.matches($0.0) && !isInside($0.0, saved) }
            if hits.isEmpty {
                throw AdapterError.nothingMatched(targets: spec.targets.description, available: linears.map(\.0))
            }
            for (key, layer) in hits {
                let adapter = try makeAdapter(config, for: layer, key: key, adapterName: name)
                adapter.adapterName = name
                record.attachments.append(Attachment(key: key, layer: layer, adapter: adapter))
                matched.append(key)
            }
            unmatched = spec.unmatchedTargets(among: linears.map(\.0))
            switch config.bias {
            case .none: break
            case .all:
                for (key, p) in base.namedParameters() where key.split(separator: ".").last.map({ $0.contains("bias") }) ?? false {
                    record.selected.append(Selected(key: key, tensor: p, original: p.storage))
                }
            case .loraOnly:
                for (key, layer) in hits { if let b = layer.bias { record.selected.append(Selected(key: key + ".bias", tensor: b, original: b.storage)) } }
            }
        }
        if let saved = config.modulesToSave {
            for (key, module) in modules where !key.isEmpty && modulesToSaveMatch(saved, key) {
                for (pk, p) in module.namedParameters(prefix: key) where !record.selected.contains(where: { $0.tensor === p }) {
                    record.selected.append(Selected(key: pk, tensor: p, original: p.storage))
                }
            }
        }
        configs.append((name, config))
        records[name] = record
        // Zoo methods that share tensors across layers (MoS shard pools) share them from the start.
        tieSharedParameters(name)
        // Methods that change during training register their optimizer-step coordinator here.
        attachStepObservers(name, config)
        if activeAdapters.isEmpty {
            activate(name)
            activeAdapters = [name]
        } else {
            deactivate(name)
        }
        let counts = base.parameterCounts()
        return InjectionReport(
            adapterName: name, method: config.method, matchedKeys: matched, unmatchedTargets: unmatched,
            selectedParameters: record.selected.map(\.key), trainable: counts.trainable, total: counts.total)
    }

    /// Whether `key` is a `modules_to_save` module or lies inside one.
    private func isInside(_ key: String, _ saved: [String]) -> Bool {
        guard !saved.isEmpty else { return false }
        let parts = key.split(separator: ".").map(String.init)
        return (1...parts.count).contains { modulesToSaveMatch(saved, parts[0..<$0].joined(separator: ".")) }
    }

    /// Builds the adapter `config` describes for one layer.
    func makeAdapter(_ config: AdapterConfig, for layer: Linear, key: String, adapterName: String) throws -> any ManagedLinearAdapter {
        let seed = SplitMix64(seed: config.seed).fork(stableHash(adapterName + "/" + key)).state
        let (r0, alpha) = config.rankAndAlpha(for: key)
        let rule = config.scalingRule
        let rank = rule.rank(configured: r0, inFeatures: layer.inFeatures)
        let scaling = rank > 0 ? rule.scale(alpha: alpha, rank: rank) : 0
        switch config.method {
        case .lora:
            if config.useDoRA {
                return try DoRA(layer: layer, rank: rank, scaling: scaling, dropout: config.loraDropout, initialization: config.initLoraWeights, seed: seed, key: key)
            }
            return try LoRA(
                inFeatures: layer.inFeatures, outFeatures: layer.outFeatures, rank: rank, scaling: scaling, dropout: config.loraDropout,
                dropoutSite: config.loraDropoutSite, initialization: config.initLoraWeights, seed: seed, key: key)
        case .ia3:
            let ff = config.feedforwardModules.map { TargetSpec.listOrRegexMatches($0, key) } ?? false
            return IA3(layer: layer, feedforward: ff)
        case .singularValues:
            return try SingularValueTuning(layer: layer, rank: config.svdRank, key: key)
        case .expertLoRA:
            return try ExpertLoRA(
                inFeatures: layer.inFeatures, outFeatures: layer.outFeatures, experts: config.numExperts, rank: rank, scaling: scaling,
                dropout: config.loraDropout, dropoutSite: config.loraDropoutSite, initialization: config.initLoraWeights, seed: seed, key: key)
        case .taskLoRA:
            return try TaskRoutedLoRA(
                inFeatures: layer.inFeatures, outFeatures: layer.outFeatures, tasks: config.tasks, mode: config.taskMode, rank: rank,
                scaling: scaling, dropout: config.loraDropout, initialization: config.initLoraWeights, seed: seed, key: key)
        case .parameterSelection:
            throw AdapterError.invalidSetting("parameter selection attaches no module adapter")
        default:
            return try makeZooAdapter(config, for: layer, key: key, seed: seed)
        }
    }

    /// The adapters attached for `name` (for domain code that sets per-call inputs such as
    /// expert mixing weights or the task id).
    public func adapters(named name: String) -> [(key: String, adapter: any ManagedLinearAdapter)] {
        records[name]?.attachments.map { ($0.key, $0.adapter) } ?? []
    }

    /// Makes exactly `names` active: their adapters attached and trainable, all others
    /// detached (unmerged first) and frozen.
    public func setActiveAdapters(_ names: [String]) throws {
        for n in names where records[n] == nil { throw AdapterError.unknownAdapter(name: n, available: configs.map(\.name)) }
        for (n, _) in configs where !names.contains(n) { deactivate(n) }
        for n in names { activate(n) }
        activeAdapters = names
    }

    private func activate(_ name: String) {
        guard let rec = records[name] else { return }
        for a in rec.attachments where !a.layer.adapters.contains(where: { $0.name == name }) {
            a.layer.attach(a.adapter, name: name)
            a.layer.adaptersEnabled = adaptersEnabled
        }
        for a in rec.attachments { for (_, p) in a.adapter.stateEntries() { p.requiresGrad = true } }
        for s in rec.selected { s.tensor.requiresGrad = true }
    }

    private func deactivate(_ name: String) {
        guard let rec = records[name] else { return }
        for a in rec.attachments {
            a.layer.detach(name: name)
            for (_, p) in a.adapter.stateEntries() { p.requiresGrad = false }
        }
        for s in rec.selected { s.tensor.requiresGrad = false }
    }

    /// Removes adapter `name`: detached (unmerged first), unfrozen base values restored.
    public func deleteAdapter(_ name: String) throws {
        guard let rec = records[name] else { throw AdapterError.unknownAdapter(name: name, available: configs.map(\.name)) }
        deactivate(name)
        for s in rec.selected { s.tensor.storage = s.original }
        records[name] = nil
        configs.removeAll { $0.name == name }
        activeAdapters.removeAll { $0 == name }
    }
}
