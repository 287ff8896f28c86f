import Foundation

/// The zoo methods' own settings in `adapter_config.json`. peft's types (`RANDLORA`, `LOKR`)
/// use peft's field names so the files load in Python; PEFTKit's own types use the names below.
/// Rank and alpha live in `AdapterConfig.r` / `loraAlpha` (read from `randlora_alpha`, LoKr's
/// `alpha`, `paca_alpha`, `lora_alpha` as the method names them).
public struct ZooSettings: Equatable, Sendable {
    // DyLoRA
    /// Smallest rank sampled during training (`dylora_min_rank`); the largest is `r`.
    public var dyloraMinRank = 1
    /// Rank used outside training and when merging (`dylora_eval_rank`; nil: `r`).
    public var dyloraEvalRank: Int?
    /// Update only the sampled rank's own row/column (`dylora_frozen_lower`, the paper's "frozen" mode).
    public var dyloraFrozenLower = false
    // Hydra
    /// Hydra's branch scale `s` (`hydra_scale`).
    public var hydraScale: Float = 1
    // RandLoRA (peft names)
    public var projectionPrngKey: UInt64 = 0
    public var saveProjection = true
    public var sparse = false
    public var verySparse = false
    // MoS
    /// Shards per rank vector (`mos_shards`, the paper's `l`).
    public var mosShards = 2
    /// Public shards per pool (`mos_pool_size`).
    public var mosPoolSize = 32
    /// Leading rank vectors of each layer built from private shards (`mos_private_ranks`).
    public var mosPrivateRanks = 1
    // LoCA / QWHA
    /// Coefficients per layer (`n_frequency`).
    public var nFrequency = 1000
    /// Multiplier of the transform-domain update (`scaling`).
    public var transformScaling: Float = 150
    /// Seed of the coefficient locations (`random_loc_seed`).
    public var randomLocSeed: UInt64 = 777
    /// QWHA: coefficients start at zero (`init_weights: true`) or N(0, 1) (the fork's default).
    public var zeroInitCoefficients = true
    // LoKr (peft names)
    public var decomposeBoth = false
    public var decomposeFactor = -1
    /// `init_weights: "lycoris"` (W2 zero instead of W1).
    public var lycorisInit = false
    public var rankDropout: Float = 0
    public var moduleDropout: Float = 0
    // TriAdaptLoRA
    /// Active rank at the start (`triadapt_init_rank`); `r` is the budget.
    public var triInitRank = 2
    /// Length of the growth phase in optimizer steps (`triadapt_growth_steps`): the growth
    /// threshold falls linearly from 1 to 0 over it, and no rank is added after it.
    public var triGrowthSteps = 100
    /// Optimizer steps between growth decisions (`triadapt_growth_interval`, the paper's ΔT).
    public var triGrowthInterval = 10
    // MTLoRA
    /// `matrix` (task outputs without the shared term) or `matrixv2` (with it) (`mtlora_mode`).
    public var mtloraIncludeShared = false
    // TLoRA
    /// Kronecker terms of the transform (`tlora_transform_rank`) and residual (`tlora_residual_rank`).
    public var tloraTransformRank = 2
    public var tloraResidualRank = 2

    public init() {}

    func validate(method: PeftMethod, r: Int, file: String) throws {
        func bad(_ s: String) -> AdapterError { .badConfig(file: file, detail: s) }
        guard PeftMethod.zooNames.contains(where: { $0.method == method }) else { return }
        if method != .loCA && method != .walshHadamard && r <= 0 { throw bad("'r' must be a positive integer, got \(r)") }
        switch method {
        case .dyLoRA:
            if dyloraMinRank < 1 || dyloraMinRank > r { throw bad("'dylora_min_rank' \(dyloraMinRank) must be in 1…r (\(r))") }
            if let e = dyloraEvalRank, e < 1 || e > r { throw bad("'dylora_eval_rank' \(e) must be in 1…r (\(r))") }
        case .mixtureOfShards:
            if mosShards < 1 { throw bad("'mos_shards' must be at least 1, got \(mosShards)") }
            if mosPoolSize < 1 { throw bad("'mos_pool_size' must be at least 1, got \(mosPoolSize)") }
            if mosPrivateRanks < 0 || mosPrivateRanks > r { throw bad("'mos_private_ranks' \(mosPrivateRanks) must be in 0…r (\(r))") }
        case .loCA, .walshHadamard:
            if nFrequency < 1 { throw bad("'n_frequency' must be at least 1, got \(nFrequency)") }
        case .triAdaptLoRA:
            if triInitRank < 1 || triInitRank > r { throw bad("'triadapt_init_rank' \(triInitRank) must be in 1…r (\(r))") }
            if triGrowthSteps < 1 { throw bad("'triadapt_growth_steps' must be at least 1, got \(triGrowthSteps)") }
            if triGrowthInterval < 1 { throw bad("'triadapt_growth_interval' must be at least 1, got \(triGrowthInterval)") }
        case .tLoRA:
            if tloraTransformRank < 1 || tloraResidualRank < 1 { throw bad("'tlora_transform_rank' and 'tlora_residual_rank' must be at least 1") }
        default: break
        }
    }

    /// Reads the method's keys through `AdapterConfig.decode`'s readers (which mark them used).
    mutating func decode(
        method: PeftMethod, config c: inout AdapterConfig, int: (String) throws -> Int?, float: (String) throws -> Float?,
        bool: (String) throws -> Bool?, value: (String) -> Any?, bad: (String) -> AdapterError
    ) throws {
        switch method {
        case .randLoRA:
            if let a = try float("randlora_alpha") { c.loraAlpha = a }
            if let p = try float("randlora_dropout") { c.loraDropout = p }
            if let k = try int("projection_prng_key") { projectionPrngKey = UInt64(truncatingIfNeeded: k) }
            if let b = try bool("save_projection") { saveProjection = b }
            if let b = try bool("sparse") { sparse = b }
            if let b = try bool("very_sparse") { verySparse = b }
            if let b = try bool("init_weights"), !b { throw bad("'init_weights': false (random lambda) is not supported; use true") }
        case .loKr:
            if let a = try float("alpha") { c.loraAlpha = a }
            if let b = try bool("decompose_both") { decomposeBoth = b }
            if let f = try int("decompose_factor") { decomposeFactor = f }
            if let p = try float("rank_dropout") { rankDropout = p }
            if let p = try float("module_dropout") { moduleDropout = p }
            _ = try bool("rank_dropout_scale")
            if let v = value("init_weights") {
                if let s = v as? String, s.lowercased() == "lycoris" { lycorisInit = true
                } else if let n = v as? NSNumber, isJSONBool(n), n.boolValue { lycorisInit = false
                } else { throw bad("'init_weights' value \(v) is not supported (true or \"lycoris\")") }
            }
            if let b = try bool("use_effective_conv2d"), b { throw bad("'use_effective_conv2d' applies to Conv2d layers, which PEFTKit's LoKr does not adapt") }
        case .paca:
            if let a = try float("paca_alpha") { c.loraAlpha = a }
        case .loCA, .walshHadamard:
            if let n = try int("n_frequency") { nFrequency = n }
            if let s = try float("scaling") { transformScaling = s }
            if let k = try int("random_loc_seed") { randomLocSeed = UInt64(truncatingIfNeeded: k) }
            if let b = try bool("init_weights") { zeroInitCoefficients = b }
        case .dyLoRA:
            if let n = try int("dylora_min_rank") { dyloraMinRank = n }
            dyloraEvalRank = try int("dylora_eval_rank")
            if let b = try bool("dylora_frozen_lower") { dyloraFrozenLower = b }
        case .hydra:
            if let s = try float("hydra_scale") { hydraScale = s }
        case .mixtureOfShards:
            if let n = try int("mos_shards") { mosShards = n }
            if let n = try int("mos_pool_size") { mosPoolSize = n }
            if let n = try int("mos_private_ranks") { mosPrivateRanks = n }
        case .triAdaptLoRA:
            if let n = try int("triadapt_init_rank") { triInitRank = n }
            if let n = try int("triadapt_growth_steps") { triGrowthSteps = n }
            if let n = try int("triadapt_growth_interval") { triGrowthInterval = n }
        case .mtLoRA:
            if let s = value("mtlora_mode") {
                guard let str = s as? String, str == "matrix" || str == "matrixv2" else { throw bad("'mtlora_mode' must be \"matrix\" or \"matrixv2\", got \(s)") }
                mtloraIncludeShared = str == "matrixv2"
            }
        case .tLoRA:
            if let n = try int("tlora_transform_rank") { tloraTransformRank = n }
            if let n = try int("tlora_residual_rank") { tloraResidualRank = n }
        default: break
        }
    }

    /// The method's keys for `adapter_config.json`.
    func jsonFields(method: PeftMethod, config c: AdapterConfig) -> [String: Any] {
        var d: [String: Any] = ["r": c.r]
        switch method {
        case .randLoRA:
            d["randlora_alpha"] = Double(c.loraAlpha)
            d["randlora_dropout"] = Double(c.loraDropout)
            d["projection_prng_key"] = Int(truncatingIfNeeded: projectionPrngKey)
            d["save_projection"] = saveProjection
            d["sparse"] = sparse
            d["very_sparse"] = verySparse
            d["init_weights"] = true
            d["bias"] = c.bias.rawValue
        case .loKr:
            d["alpha"] = Double(c.loraAlpha)
            d["decompose_both"] = decomposeBoth
            d["decompose_factor"] = decomposeFactor
            d["rank_dropout"] = Double(rankDropout)
            d["module_dropout"] = Double(moduleDropout)
            d["rank_dropout_scale"] = false
            d["init_weights"] = lycorisInit ? "lycoris" as Any : true as Any
            d["use_effective_conv2d"] = false
            d["rank_pattern"] = c.rankPattern
            d["alpha_pattern"] = c.alphaPattern.mapValues(Double.init)
        case .paca:
            d["paca_alpha"] = Double(c.loraAlpha)
        case .loCA, .walshHadamard:
            d["n_frequency"] = nFrequency
            d["scaling"] = Double(transformScaling)
            d["random_loc_seed"] = Int(truncatingIfNeeded: randomLocSeed)
            d["init_weights"] = zeroInitCoefficients
        case .dyLoRA:
            d["lora_alpha"] = Double(c.loraAlpha)
            d["dylora_min_rank"] = dyloraMinRank
            d["dylora_eval_rank"] = dyloraEvalRank.map { $0 as Any } ?? NSNull()
            d["dylora_frozen_lower"] = dyloraFrozenLower
        case .hydra:
            d["hydra_scale"] = Double(hydraScale)
        case .loLDU, .mtLoRA, .triAdaptLoRA:
            d["lora_alpha"] = Double(c.loraAlpha)
            if method == .mtLoRA {
                d["tasks"] = c.tasks
                d["mtlora_mode"] = mtloraIncludeShared ? "matrixv2" : "matrix"
            }
            if method == .triAdaptLoRA {
                d["triadapt_init_rank"] = triInitRank
                d["triadapt_growth_steps"] = triGrowthSteps
                d["triadapt_growth_interval"] = triGrowthInterval
            }
        case .mixtureOfShards:
            d["lora_alpha"] = Double(c.loraAlpha)
            d["mos_shards"] = mosShards
            d["mos_pool_size"] = mosPoolSize
            d["mos_private_ranks"] = mosPrivateRanks
        case .tLoRA:
            d["lora_alpha"] = Double(c.loraAlpha)
            d["tlora_transform_rank"] = tloraTransformRank
            d["tlora_residual_rank"] = tloraResidualRank
        default: break
        }
        // PEFTKit's own types keep alpha under LoRA's name whatever the method calls it.
        if method.rawValue.hasPrefix("PEFTKIT_") && method != .paca { d["lora_alpha"] = Double(c.loraAlpha) }
        return d
    }
}
