import Foundation

extension PeftModel {
    /// Builds the zoo adapter `config` describes for one layer (called by `makeAdapter`).
    /// `seed` is the per-layer stream (config seed forked by adapter name and module key).
    func makeZooAdapter(_ config: AdapterConfig, for layer: Linear, key: String, seed: UInt64) throws -> any ManagedLinearAdapter {
        let z = config.zoo
        let (r, alpha) = config.rankAndAlpha(for: key)
        let inF = layer.inFeatures, out = layer.outFeatures
        switch config.method {
        case .dyLoRA:
            guard z.dyloraMinRank <= r else { throw AdapterError.invalidSetting("'\(key)': dylora_min_rank \(z.dyloraMinRank) exceeds r \(r)") }
            return try DyLoRA(inFeatures: inF, outFeatures: out, maxRank: r, minRank: z.dyloraMinRank, alpha: alpha,
                              evalRank: z.dyloraEvalRank.map { Swift.min($0, r) }, frozenLower: z.dyloraFrozenLower, seed: seed, key: key)
        case .hydra:
            return try Hydra(layer: layer, rank: r, scale: z.hydraScale, seed: seed, key: key)
        case .loLDU:
            return try LoLDU(layer: layer, rank: r, alpha: alpha, key: key)
        case .randLoRA:
            let kind: RandLoRA.BasisKind = z.verySparse ? .verySparse : (z.sparse ? .sparse : .dense)
            return try RandLoRA(inFeatures: inF, outFeatures: out, rank: r, alpha: alpha, projectionKey: z.projectionPrngKey, basis: kind, key: key)
        case .mixtureOfShards:
            return try MixtureOfShards(inFeatures: inF, outFeatures: out, rank: r, alpha: alpha, shards: z.mosShards, poolSize: z.mosPoolSize,
                                       privateRanks: Swift.min(z.mosPrivateRanks, r), poolSeed: config.seed, seed: seed, key: key)
        case .paca:
            return try PaCA(layer: layer, rank: r, alpha: alpha, seed: seed, key: key)
        case .loCA:
            return try LoCA(layer: layer, count: z.nFrequency, alpha: z.transformScaling, seed: seed, key: key)
        case .walshHadamard:
            return try WalshHadamardAdapter(layer: layer, count: z.nFrequency, scaling: z.transformScaling, locationSeed: z.randomLocSeed,
                                            zeroInit: z.zeroInitCoefficients, seed: seed, key: key)
        case .loKr:
            return try LoKr(inFeatures: inF, outFeatures: out, rank: r, alpha: alpha, decomposeBoth: z.decomposeBoth,
                            decomposeFactor: z.decomposeFactor, lycorisInit: z.lycorisInit, seed: seed, key: key)
        case .triAdaptLoRA:
            return try TriAdaptLoRA(inFeatures: inF, outFeatures: out, budget: r, initialRank: Swift.min(z.triInitRank, r), alpha: alpha, seed: seed, key: key)
        case .mtLoRA:
            return try MTLoRA(inFeatures: inF, outFeatures: out, tasks: config.tasks, rank: r, scaling: alpha / Float(r),
                              includeShared: z.mtloraIncludeShared, seed: seed, key: key)
        case .tLoRA:
            return TLoRA(inFeatures: inF, outFeatures: out, transformRank: z.tloraTransformRank, residualRank: z.tloraResidualRank, alpha: alpha, seed: seed)
        default:
            throw AdapterError.invalidSetting("\(config.method.rawValue) is not a zoo method")
        }
    }

    /// `addAdapter` (kept for callers written before `addAdapter` tied MoS pools itself).
    @discardableResult
    public func addZooAdapter(_ config: AdapterConfig, name: String = "default") throws -> InjectionReport {
        try addAdapter(config, name: name)
    }

    /// `save` (kept for callers written before `save` wrote RandLoRA's shared bases itself).
    public func saveForPeft(to directory: URL, adapter name: String = "default") throws {
        try save(to: directory, adapter: name)
    }
}

extension AdapterConfig {
    /// A zoo method's config with PEFTKit's defaults, from its short name (`randlora`, `lokr`, …).
    /// Throws naming the known methods when `name` is not one.
    public static func zoo(_ name: String, r: Int = 8, alpha: Float? = nil, targets: [String]) throws -> AdapterConfig {
        guard let m = PeftMethod.zooNames.first(where: { $0.name == name.lowercased() })?.method else {
            throw AdapterError.invalidSetting("unknown method '\(name)'; known zoo methods: \(PeftMethod.zooNames.map(\.name).joined(separator: ", "))")
        }
        var c = AdapterConfig(method: m)
        c.r = r
        c.loraAlpha = alpha ?? Float(r)
        c.targetModules = .names(targets)
        switch m {
        case .randLoRA: c.loraAlpha = alpha ?? 20 * Float(r)  // peft's default ratio (640 for r = 32)
        default: break
        }
        return c
    }
}

extension PeftModel {
    /// Runs every zoo adapter's `validateLoaded` for adapter `name` (after `load`): corrupt
    /// indices or locations become a one-line error naming `file`.
    public func validateZooBuffers(_ name: String = "default", file: String) throws {
        for a in records[name]?.attachments ?? [] {
            try (a.adapter as? ZooAdapter)?.validateLoaded(layer: a.layer, file: file)
        }
    }
}
