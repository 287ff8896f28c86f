import Core
import Foundation

/// Where one domain's training is: the loop's own state beside weights and AdamW, so a resumed
/// run continues with the next batch exactly. Floating values are kept as bit patterns (JSON
/// text of a Double need not read back to the same bits, and `bestF` decides epochs).
struct GECDomainCursor: Codable, Equatable {
    /// The epoch (1-based) the next batch belongs to and the batches of it already trained.
    var epoch = 1
    var batch = 0
    /// Optimizer steps of this domain (the schedule's position).
    var step = 0
    /// The epoch's generator (shuffle, then `$KEEP` masking) after `batch` batches.
    var rng: UInt64 = 0
    var lossSumBits: UInt64 = 0
    var lossCount = 0
    /// Dev selection: the best dev F0.5 so far (−1: none yet) and its epoch.
    var bestFBits: UInt64 = (-1.0).bitPattern
    var bestEpoch = 0

    var lossSum: Double {
        get { Double(bitPattern: lossSumBits) }
        set { lossSumBits = newValue.bitPattern }
    }
    var bestF: Double {
        get { Double(bitPattern: bestFBits) }
        set { bestFBits = newValue.bitPattern }
    }
}

/// The continual methods' memory that is not a tensor: replay buffer contents (as item
/// references) with its generator and offer count, GEM/A-GEM memories, A-GEM's generator and
/// the projection count. EWC's Fisher and anchors and OGD's basis are tensors (`extra/…`).
struct GECMethodMemory: Codable, Equatable {
    var replay: [GECItemRef] = []
    var replaySeen = 0
    var replayRNG: UInt64 = 0
    var memories: [[GECItemRef]] = []
    var rng: UInt64 = 0
    var projections = 0
}

/// Everything of a `gec-cl run` besides tensors, the checkpoint's progress record.
struct GECContinualProgress: Codable, Equatable {
    /// The domain being trained, or the next to start (`domains.count` when all are done).
    var domain = 0
    /// Whether `domain`'s training has begun (its O-LoRA adapter exists and `cursor` is its position).
    var started = false
    var cursor = GECDomainCursor()
    /// Untrained scores and the accuracy-matrix rows done so far (ERRANT counts per test domain).
    var baseline: [EditCounts] = []
    var rows: [[EditCounts]] = []
    var lastMaxMatch: [MaxMatchCounts] = []
    /// The last row's error-type reports (results.json's `by_type`), so a resume from the
    /// finished checkpoint writes the same results (optional: older checkpoints lack it).
    var lastTypes: [GECErrorTypes.Report]? = nil
    var kept: [Int] = []
    var devScores: [Double?] = []
    var trainable = 0
    var trainSeconds = 0.0
    var memory = GECMethodMemory()
    /// The correction settings `--tune-correction` chose on the last finished domain's dev split.
    var correction: GECCorrectionOptions? = nil

    /// O-LoRA adapters that exist at this point (`task0` … `task<n−1>`).
    var oloraAdapters: Int { max(1, started ? domain + 1 : domain) }
}

/// Writes and restores `gec-cl run`'s training checkpoint (`training_checkpoint.safetensors` in
/// the run folder, one file through `AtomicFile`, see docs/distributed.md):
///
/// | part | where |
/// |---|---|
/// | trainable weights of the current domain (head + its encoder adapter, or all for seq-ft) | `param/<name>` |
/// | AdamW state of the current domain (empty between domains: each domain starts a fresh AdamW) | `optim/<name>.<state>` |
/// | earlier domains' frozen O-LoRA adapters | `extra/frozen/<adapter>/<layer>/<name>` |
/// | dev selection's best weights so far | `extra/best/<name>` |
/// | EWC Fisher and anchors | `extra/ewc.fisher/<name>`, `extra/ewc.anchor/<name>` |
/// | OGD basis | `extra/ogd.basis` ([vectors, parameters]) |
/// | position: global step, epoch, batch in epoch | header `position` |
/// | domain index, in-domain step, epoch generator, loss sums, best dev F0.5, matrix rows, replay buffer, GEM memories, A-GEM generator | header `progress` (`GECContinualProgress`) |
/// | every rank's dropout generators; the config; the base-model fingerprint | header |
struct GECContinualCheckpointer {
    static let command = "gec-cl run"
    let config: [String: String]
    /// `ModelFingerprint` of the tagger as built, before any training or restore.
    let baseModel: String
    let folder: URL?
    let world: any Distributed

    /// The settings a resume must share: every `GECContinualOptions` field but `logEvery`
    /// (`option.<name>`, so a refusal names it), a hash of every domain's sentences as used
    /// (after `--max-train/dev/test`) and a hash of the tag vocabulary.
    static func config(options: GECContinualOptions, names: [String], splits: [[[GECExample]]], labels: [String]) -> [String: String] {
        var config: [String: String] = [:]
        for child in Mirror(reflecting: options).children {
            guard let key = child.label, key != "logEvery" else { continue }
            // An optional prints as its value (or "nil"), so a refusal reads "lr: checkpoint 0.01, this run 0.02".
            let m = Mirror(reflecting: child.value)
            config["option." + key] = m.displayStyle == .optional ? m.children.first.map { "\($0.value)" } ?? "nil" : "\(child.value)"
        }
        var h = FNV1a64()
        for (name, parts) in zip(names, splits) {
            h.mix(name)
            for part in parts {
                h.mix(UInt64(part.count))
                for e in part { h.mix(e.source); for r in e.references { h.mix(r) }; h.mix(0xFE) }
            }
        }
        config["data"] = h.hex
        config["tags"] = ModelFingerprint.of(strings: labels)
        return config
    }

    /// Encoder-adapter parameters that are not trainable now (earlier O-LoRA tasks), by key.
    static func frozenAdapterTensors(_ tagger: GECTagger, trainable: [(String, Tensor)]) -> [(String, Tensor)] {
        let live = Set(trainable.map { ObjectIdentifier($0.1) })
        var out: [(String, Tensor)] = []
        for name in tagger.encoderAdapters {
            for (key, adapter) in tagger.peft.adapters(named: name) {
                for (pname, p) in adapter.namedParameters() where !live.contains(ObjectIdentifier(p)) {
                    out.append(("\(name)/\(key)/\(pname)", p))
                }
            }
        }
        return out
    }

    /// Writes the checkpoint. Every rank must call it (the generator states of all ranks are
    /// gathered); rank 0 alone writes.
    func write(position: TrainingPosition, progress: GECContinualProgress, tagger: GECTagger, params: [(String, Tensor)],
               optimizer: (any Optimizer)?, best: [[Float]], state: GECContinualMethodState) throws {
        let mine = ModelRandomState.capture(tagger.model)
        let keys = mine.keys.sorted()
        let gathered = try world.allGather(keys.map { mine[$0] ?? 0 })
        guard world.isLeader, let folder else { return }
        let states = gathered.map { Dictionary(uniqueKeysWithValues: zip(keys, $0)) }
        func copy(_ t: Tensor) -> Tensor { Tensor(t.storage, shape: t.shape) }
        var weights: [String: Tensor] = [:]
        for (name, p) in params { weights[name] = copy(p) }
        var extra: [String: Tensor] = [:]
        for (key, p) in Self.frozenAdapterTensors(tagger, trainable: params) { extra["frozen/" + key] = copy(p) }
        for ((name, p), w) in zip(params, best) where w.count == p.count { extra["best/" + name] = Tensor(w, shape: p.shape) }
        for (name, f) in state.ewc.fisher { extra["ewc.fisher/" + name] = Tensor(f, shape: [f.count]) }
        for (name, a) in state.ewc.anchor { extra["ewc.anchor/" + name] = Tensor(a, shape: [a.count]) }
        let basis = state.basis.vectors
        if let n = basis.first?.count { extra["ogd.basis"] = Tensor(basis.flatMap { $0 }, shape: [basis.count, n]) }
        var record = progress
        record.memory = state.memory
        let json = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
        try TrainingCheckpoint(command: Self.command, position: position, config: config, baseModel: baseModel, randomStates: states,
                               parameters: weights, optimizer: optimizer?.stateDict() ?? [:], extraTensors: extra, progress: json)
            .write(to: folder)
    }

    /// Reads a checkpoint of this run (refused, naming every difference, when the command,
    /// config or base model differ) and its progress record.
    func read(_ pathOrFolder: URL, domains: Int) throws -> (checkpoint: TrainingCheckpoint, progress: GECContinualProgress) {
        let file = TrainingCheckpoint.file(in: pathOrFolder)
        let ckpt = try TrainingCheckpoint.read(from: file)
        try ckpt.requireCompatible(command: Self.command, config: config, baseModel: baseModel, file: file.path)
        guard let p = try? JSONDecoder().decode(GECContinualProgress.self, from: Data(ckpt.progress.utf8)),
              p.domain >= 0, p.domain <= domains, !(p.started && p.domain == domains), p.rows.count == p.domain else {
            throw TrainingCheckpointError.notACheckpoint(file: file.path, detail: "its progress record is not gec-cl run's; train into a new --out folder")
        }
        return (ckpt, p)
    }

    /// Puts the checkpoint's weights, generators and method memory back (the O-LoRA adapters it
    /// names must exist already). Returns dev selection's best weights (empty when none).
    func restore(_ ckpt: TrainingCheckpoint, progress: GECContinualProgress, file: String, tagger: GECTagger,
                 params: [(String, Tensor)], state: GECContinualMethodState) throws -> [[Float]] {
        var problems: [String] = []
        func check(_ saved: Tensor?, _ p: Tensor, _ what: String) -> Tensor? {
            guard let saved else { problems.append("no weights for \(what)"); return nil }
            guard saved.shape == p.shape else { problems.append("\(what) has shape \(saved.shape), the model needs \(p.shape)"); return nil }
            return saved
        }
        let frozen = Self.frozenAdapterTensors(tagger, trainable: params)
        let weights = params.map { check(ckpt.parameters[$0.0], $0.1, "trainable '\($0.0)'") }
        let frozenWeights = frozen.map { check(ckpt.extraTensors["frozen/" + $0.0], $0.1, "adapter '\($0.0)'") }
        let saved = params.map { ckpt.extraTensors["best/" + $0.0] }
        let best = saved.contains { $0 != nil } ? params.map { check(ckpt.extraTensors["best/" + $0.0], $0.1, "best weights '\($0.0)'") } : []
        let known = Set(params.map(\.0))
        for name in ckpt.parameters.keys where !known.contains(name) { problems.append("'\(name)' is not trainable here") }
        let count = ParameterVector.count(params)
        let basis = ckpt.extraTensors["ogd.basis"]
        if let b = basis, b.shape.count != 2 || b.shape[1] != count || b.shape[0] > state.basis.maxSize {
            problems.append("the OGD basis has shape \(b.shape), this run needs [≤ \(state.basis.maxSize), \(count)]")
        }
        let m = progress.memory
        let refs = m.replay + m.memories.flatMap { $0 }
        if refs.contains(where: { $0.domain < 0 || $0.domain >= state.items.count || $0.index < 0 || $0.index >= state.items[$0.domain].count })
            || m.replay.count > state.replay.capacity || m.replaySeen < m.replay.count {
            problems.append("its replay buffer or memories name training sentences this data does not have")
        }
        if !problems.isEmpty { throw TrainingCheckpointError.mismatch(file: file, differences: Array(problems.prefix(4))) }
        for ((_, p), w) in zip(params, weights) { p.storage = w!.storage }
        for ((_, p), w) in zip(frozen, frozenWeights) { p.storage = w!.storage }
        if ckpt.ranks == world.size {
            try ModelRandomState.restore(ckpt.randomStates[world.rank], into: tagger.model)
        } else if let first = ckpt.randomStates.first {
            try ModelRandomState.restore(first, into: tagger.model)
            ModelRandomState.forkForRank(tagger.model, rank: world.rank)
        }
        var fisher: [String: [Float]] = [:], anchor: [String: [Float]] = [:]
        for (key, t) in ckpt.extraTensors {
            if key.hasPrefix("ewc.fisher/") { fisher[String(key.dropFirst(11))] = t.storage }
            if key.hasPrefix("ewc.anchor/") { anchor[String(key.dropFirst(11))] = t.storage }
        }
        state.ewc.restore(fisher: fisher, anchor: anchor)
        if let b = basis, b.shape[0] > 0 {
            let n = b.shape[1]
            state.basis.restore((0..<b.shape[0]).map { Array(b.storage[($0 * n)..<(($0 + 1) * n)]) })
        }
        state.memory = m
        return best.map { $0!.storage }
    }
}

extension GECContinualMethodState {
    /// The non-tensor memory, for the checkpoint; setting it restores it.
    var memory: GECMethodMemory {
        get {
            GECMethodMemory(replay: replay.items, replaySeen: replay.seen, replayRNG: replay.generatorState, memories: memories,
                            rng: rng.state, projections: projections)
        }
        set {
            replay = ReservoirBuffer(capacity: replay.capacity, items: newValue.replay, seen: newValue.replaySeen, generatorState: newValue.replayRNG)
            memories = newValue.memories
            rng.state = newValue.rng
            projections = newValue.projections
        }
    }
}
