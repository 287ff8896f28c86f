import Foundation

/// `adapter_config.json` both ways, with peft's field names.
///
/// Reading accepts what peft 0.x writes: unknown keys give a warning naming them (never a
/// failure), keys peft writes as null or empty defaults are accepted silently, and settings
/// that would change the maths but are not implemented here (`fan_in_fan_out`, `lora_bias`,
/// `layer_replication`, …) are errors rather than silently ignored. Writing emits only keys
/// peft knows for peft's own types, so Python can load the result.
extension AdapterConfig {
    /// Keys whose presence with a null/false/empty value is normal in peft files.
    static let knownInertKeys: Set<String> = [
        "alora_invocation_tokens", "arrow_config", "auto_mapping", "corda_config", "ensure_weight_tying",
        "eva_config", "kasa_config", "loftq_config", "lora_ga_config", "megatron_config", "megatron_core",
        "monteclora_config", "peft_version", "qalora_group_size", "revision", "trainable_token_indices",
        "use_bdlora", "velora_config", "target_parameters", "layer_replication", "use_qalora", "lora_bias",
        "fan_in_fan_out", "init_ia3_weights", "exclude_modules", "inference_mode",
    ]

    /// Settings that change results and are not supported: an error when set to a non-default.
    static let unsupportedWhenSet: [String: String] = [
        "fan_in_fan_out": "weights stored [in, out] (GPT-2 Conv1D) are not supported; convert the base to [out, in]",
        "lora_bias": "a trainable bias inside lora_B is not supported",
        "layer_replication": "layer replication is not supported",
        "use_qalora": "QA-LoRA is not supported",
        "target_parameters": "targeting raw parameters is not supported; target Linear modules",
        "trainable_token_indices": "trainable tokens are not supported",
        "use_bdlora": "block-diagonal LoRA is not supported",
    ]

    /// Parses `adapter_config.json`. Returns the config and warnings (unknown keys).
    public static func decode(_ data: Data, file: String = "adapter_config.json") throws -> (config: AdapterConfig, warnings: [String]) {
        func bad(_ s: String) -> AdapterError { .badConfig(file: file, detail: s) }
        guard let any = try? JSONSerialization.jsonObject(with: data), let d = any as? [String: Any] else {
            throw bad("not a JSON object; the file is corrupt or not an adapter config")
        }
        guard let typeName = d["peft_type"] as? String else { throw bad("'peft_type' is missing or not a string") }
        guard let method = PeftMethod(rawValue: typeName) else {
            throw bad("peft_type '\(typeName)' is not supported (supported: \(PeftMethod.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        var c = AdapterConfig(method: method)
        var used: Set<String> = ["peft_type"]
        func value(_ k: String) -> Any? {
            used.insert(k)
            guard let v = d[k], !(v is NSNull) else { return nil }
            return v
        }
        func int(_ k: String) throws -> Int? {
            guard let v = value(k) else { return nil }
            guard let n = v as? NSNumber, Double(n.intValue) == n.doubleValue, !isJSONBool(n) else { throw bad("'\(k)' must be an integer, got \(v)") }
            return n.intValue
        }
        func float(_ k: String) throws -> Float? {
            guard let v = value(k) else { return nil }
            guard let n = v as? NSNumber, !isJSONBool(n) else { throw bad("'\(k)' must be a number, got \(v)") }
            // A value past Float's range becomes ±inf: refuse it here rather than scale by infinity.
            guard n.floatValue.isFinite else { throw bad("'\(k)' must be a finite number within 32-bit float range, got \(clippedForMessage("\(v)"))") }
            return n.floatValue
        }
        func bool(_ k: String) throws -> Bool? {
            guard let v = value(k) else { return nil }
            guard let n = v as? NSNumber, isJSONBool(n) else { throw bad("'\(k)' must be true or false, got \(v)") }
            return n.boolValue
        }
        func strings(_ k: String) throws -> [String]? {
            guard let v = value(k) else { return nil }
            if let s = v as? String { return [s] }
            guard let a = v as? [Any], let s = a as? [String] else { throw bad("'\(k)' must be a string or a list of strings") }
            return s
        }
        func targets(_ k: String) throws -> TargetModules? {
            guard let v = value(k) else { return nil }
            if let s = v as? String { return s.lowercased() == "all-linear" ? .allLinear : .regex(s) }
            guard let a = v as? [Any], let s = a as? [String] else { throw bad("'\(k)' must be a regex string or a list of module names") }
            return .names(s.sorted())
        }

        c.targetModules = try targets("target_modules")
        c.excludeModules = try targets("exclude_modules")
        c.feedforwardModules = try targets("feedforward_modules")
        if let v = value("layers_to_transform") {
            if let n = v as? NSNumber { c.layersToTransform = [n.intValue]
            } else if let a = v as? [NSNumber] { c.layersToTransform = a.map(\.intValue)
            } else { throw bad("'layers_to_transform' must be an integer or a list of integers") }
        }
        c.layersPattern = try strings("layers_pattern")
        c.modulesToSave = try strings("modules_to_save")
        if let r = try int("r") { c.r = r }
        if let a = try float("lora_alpha") { c.loraAlpha = a }
        if let p = try float("lora_dropout") { c.loraDropout = p }
        if let b = try bool("use_rslora") { c.useRSLoRA = b }
        if let b = try bool("use_dora") { c.useDoRA = b }
        if let b = try bool("inference_mode") { c.inferenceMode = b }
        if let s = value("bias") {
            guard let str = s as? String, let b = BiasTraining(rawValue: str) else { throw bad("'bias' must be \"none\", \"all\" or \"lora_only\", got \(s)") }
            c.bias = b
        }
        if let v = value("init_lora_weights") {
            if let n = v as? NSNumber, isJSONBool(n) {
                guard n.boolValue else { throw bad("'init_lora_weights': false (random B) is not supported; use true or \"gaussian\"") }
                c.initLoraWeights = .kaimingA
            } else if let s = v as? String, s.lowercased() == "gaussian" { c.initLoraWeights = .gaussianA
            } else if let s = v as? String, s == "kaiming_b" { c.initLoraWeights = .kaimingB
            } else { throw bad("'init_lora_weights' value \(v) is not supported (true, \"gaussian\" or \"kaiming_b\")") }
        }
        if let v = value("rank_pattern") {
            guard let m = v as? [String: NSNumber] else { throw bad("'rank_pattern' must map patterns to integers") }
            c.rankPattern = m.mapValues(\.intValue)
        }
        if let v = value("alpha_pattern") {
            guard let m = v as? [String: NSNumber], m.values.allSatisfy({ !isJSONBool($0) && $0.floatValue.isFinite }) else {
                throw bad("'alpha_pattern' must map patterns to finite numbers")
            }
            c.alphaPattern = m.mapValues(\.floatValue)
        }
        if let s = value("lora_dropout_site") as? String {
            guard let site = LoRADropoutSite(rawValue: s) else { throw bad("'lora_dropout_site' must be \"input\" or \"output\"") }
            c.loraDropoutSite = site
        }
        c.reductionFactor = try int("reduction_factor")
        c.svdRank = try int("svd_rank")
        if let n = try int("num_experts") { c.numExperts = n }
        if let t = try strings("tasks") { c.tasks = t }
        if let s = value("task_lora_mode") {
            guard let str = s as? String, let m = TaskLoRAMode(rawValue: str) else { throw bad("'task_lora_mode' must be shared, task or shared+task") }
            c.taskMode = m
        }
        if let p = try strings("parameter_patterns") { c.parameterPatterns = p }
        if PeftMethod.zooNames.contains(where: { $0.method == method }) {
            var zoo = c.zoo
            try zoo.decode(method: method, config: &c, int: int, float: float, bool: bool, value: value, bad: bad)
            c.zoo = zoo
        }
        if let n = try int("seed") { c.seed = UInt64(truncatingIfNeeded: n) }
        c.taskType = value("task_type") as? String
        c.baseModelNameOrPath = value("base_model_name_or_path") as? String

        for (k, why) in unsupportedWhenSet {
            guard let v = d[k], !(v is NSNull) else { continue }
            let inert = (v as? NSNumber).map { isJSONBool($0) ? !$0.boolValue : false } ?? ((v as? [Any])?.isEmpty ?? false)
            if !inert { throw bad("'\(k)' is set (\(v)): \(why)") }
        }
        var warnings: [String] = []
        let unknown = d.keys.filter { !used.contains($0) && !knownInertKeys.contains($0) }.sorted()
        if !unknown.isEmpty { warnings.append(oneLineMessage("\(file): ignoring unknown key(s) \(clippedForMessage(unknown.joined(separator: ", "), limit: 200))")) }
        try c.validate(file: file)
        return (c, warnings)
    }

    /// The JSON object peft (or PEFTKit, for `PEFTKIT_` types) reads back.
    public func jsonObject() -> [String: Any] {
        func targetsJSON(_ t: TargetModules?) -> Any {
            switch t {
            case nil: return NSNull()
            case let .names(n)?: return n
            case let .regex(r)?: return r
            case .allLinear?: return "all-linear"
            }
        }
        var d: [String: Any] = [
            "peft_type": method.rawValue,
            "target_modules": targetsJSON(targetModules),
            "exclude_modules": targetsJSON(excludeModules),
            "modules_to_save": modulesToSave.map { $0 as Any } ?? NSNull(),
            "layers_to_transform": layersToTransform.map { $0 as Any } ?? NSNull(),
            "layers_pattern": layersPattern.map { $0 as Any } ?? NSNull(),
            "task_type": taskType.map { $0 as Any } ?? NSNull(),
            "base_model_name_or_path": baseModelNameOrPath.map { $0 as Any } ?? NSNull(),
            "inference_mode": inferenceMode,
            "fan_in_fan_out": false,
            "revision": NSNull(),
        ]
        switch method {
        case .lora, .expertLoRA, .taskLoRA:
            d["r"] = r
            d["lora_alpha"] = Double(loraAlpha)
            d["lora_dropout"] = Double(loraDropout)
            d["use_rslora"] = useRSLoRA
            d["use_dora"] = useDoRA
            d["bias"] = bias.rawValue
            d["rank_pattern"] = rankPattern
            d["alpha_pattern"] = alphaPattern.mapValues(Double.init)
            d["lora_bias"] = false
            switch initLoraWeights {
            case .kaimingA: d["init_lora_weights"] = true
            case .gaussianA: d["init_lora_weights"] = "gaussian"
            case .kaimingB: d["init_lora_weights"] = method == .lora ? true : "kaiming_b"  // peft knows no "A = 0" init; B·A = 0 either way
            }
            if loraDropoutSite != .input { d["lora_dropout_site"] = loraDropoutSite.rawValue }
            if let rr = reductionFactor { d["reduction_factor"] = rr }
            if method == .expertLoRA { d["num_experts"] = numExperts }
            if method == .taskLoRA {
                d["tasks"] = tasks
                d["task_lora_mode"] = taskMode.rawValue
            }
        case .ia3:
            d["feedforward_modules"] = targetsJSON(feedforwardModules)
            d["init_ia3_weights"] = true
        case .singularValues:
            d["svd_rank"] = svdRank.map { $0 as Any } ?? NSNull()
        case .parameterSelection:
            d["parameter_patterns"] = parameterPatterns
        default:
            d.merge(zoo.jsonFields(method: method, config: self)) { _, new in new }
        }
        if method.rawValue.hasPrefix("PEFTKIT_") { d["seed"] = Int(truncatingIfNeeded: seed) }
        return d
    }

    /// Pretty-printed, key-sorted JSON bytes.
    public func encodeJSON() throws -> Data {
        try JSONSerialization.data(withJSONObject: jsonObject(), options: [.prettyPrinted, .sortedKeys])
    }
}

/// Whether an NSNumber decoded from JSON is a boolean (JSONSerialization gives booleans and
/// numbers the same Swift type on Linux; the type encoding `c` marks the booleans).
func isJSONBool(_ n: NSNumber) -> Bool {
    String(cString: n.objCType) == "c"
}
