import Foundation

/// The reusable part of a resumable, data-parallel training loop: it owns the link between
/// a model's trainable parameters, its optimizer, its random generators, the ranks of a
/// `Distributed` group and the run's `TrainingCheckpoint`. A trainer keeps its own loop,
/// loss and logging and calls the session at four points:
///
/// ```swift
/// let session = try TrainingSession(command: "my-app train", model: model, parameters: params,
///                                   optimizer: opt, config: ["lr": "\(lr)", "r": "\(r)"],
///                                   folder: outDir, every: 200, world: try DistributedWorld.current())
/// var at = TrainingPosition()
/// if let dir = resumeDir { at = try session.resume(from: dir).position }    // 1. resume
/// for epoch in at.epoch...epochs {
///     for (b, batch) in batches(epoch).enumerated() where !at.alreadyTrained(epoch: epoch, batch: b) {
///         let mine = session.shard(batch)                                    // 2. this rank's slice
///         … loss on `mine`, backward …
///         try session.averageGradients(localWeight: Double(mine.count))     // 3. all-reduce
///         clip; opt.step(params); opt.zeroGrad(params); step += 1
///         try session.checkpointIfDue(TrainingPosition(step: step, epoch: epoch, batchInEpoch: b + 1))  // 4.
///     }
/// }
/// try session.checkpoint(TrainingPosition(step: step, epoch: epochs + 1, finished: true))
/// ```
///
/// Rules that make resume bit-exact: the batch order of an epoch must be a pure function of
/// (seed, epoch); every random draw must come from a generator `ModelRandomState` sees; and
/// the learning rate must be a function of `position.step`. Values not captured here (loss
/// sums, best-so-far) go in `progress` / `extraTensors`. Only rank 0 writes files.
public final class TrainingSession {
    public let command: String
    public let model: Module
    public let parameters: [(String, Tensor)]
    public let optimizer: any Optimizer
    public let config: [String: String]
    /// `ModelFingerprint` taken at construction, before any step or restore.
    public let baseModel: String
    /// Folder the checkpoint is written to (nil: never).
    public let folder: URL?
    /// A checkpoint every this many optimizer steps (0: only when `checkpoint` is called).
    public let every: Int
    public let world: any Distributed
    public let reducer: GradientAllReduce

    /// Takes the fingerprint of `model` and gives each rank > 0 its own dropout streams.
    public init(command: String, model: Module, parameters: [(String, Tensor)], optimizer: any Optimizer,
                config: [String: String], folder: URL?, every: Int, world: any Distributed = SingleProcess()) throws {
        self.command = command
        self.model = model
        self.parameters = parameters
        self.optimizer = optimizer
        self.config = config
        self.folder = folder
        self.every = max(0, every)
        self.world = world
        reducer = GradientAllReduce(parameters: parameters)
        baseModel = ModelFingerprint.of(model)
        ModelRandomState.forkForRank(model, rank: world.rank)
    }

    /// This rank's slice of a global batch (the whole batch in one process).
    public func shard<T>(_ batch: [T]) -> [T] { DataShard.slice(batch, rank: world.rank, size: world.size) }

    /// Averages gradients over the ranks, weighting each by `localWeight` (the number of items
    /// its mean loss was taken over); `extras` are summed alongside. No-op in one process.
    @discardableResult
    public func averageGradients(localWeight: Double, extras: [Float] = []) throws -> (total: Double, sums: [Float]) {
        try reducer.average(localWeight: localWeight, extras: extras, over: world)
    }

    /// Restores weights, optimizer state and random generators from the checkpoint in
    /// `pathOrFolder` after checking it belongs to this run; returns it for the caller's
    /// `position`, `progress` and `extraTensors`. With the same number of ranks each rank
    /// takes its own generator states; with a different number, rank 0's states are taken
    /// and forked per rank (the run continues correctly, but not bit-identically to an
    /// uninterrupted one when dropout is on).
    public func resume(from pathOrFolder: URL) throws -> TrainingCheckpoint {
        let file = TrainingCheckpoint.file(in: pathOrFolder)
        let ckpt = try TrainingCheckpoint.read(from: file)
        try ckpt.requireCompatible(command: command, config: config, baseModel: baseModel, file: file.path)
        var problems: [String] = []
        let byName = Dictionary(parameters.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        for (name, p) in parameters {
            guard let t = ckpt.parameters[name] else { problems.append("no weights for trainable '\(name)'"); continue }
            if t.shape != p.shape { problems.append("'\(name)' has shape \(t.shape), the model needs \(p.shape)") }
        }
        for name in ckpt.parameters.keys where byName[name] == nil { problems.append("'\(name)' is not trainable here") }
        if !problems.isEmpty {
            throw TrainingCheckpointError.mismatch(file: file.path, differences: Array(problems.prefix(4)))
        }
        for (name, p) in parameters { p.storage = ckpt.parameters[name]!.storage }
        do {
            try optimizer.loadStateDict(ckpt.optimizer, for: parameters)
        } catch {
            throw TrainingCheckpointError.mismatch(file: file.path, differences: ["\(error)"])
        }
        if ckpt.ranks == world.size {
            try ModelRandomState.restore(ckpt.randomStates[world.rank], into: model)
        } else if let first = ckpt.randomStates.first {
            try ModelRandomState.restore(first, into: model)
            ModelRandomState.forkForRank(model, rank: world.rank)
        }
        return ckpt
    }

    /// Whether a checkpoint is due after `step` optimizer steps.
    public func isDue(step: Int) -> Bool { every > 0 && step > 0 && step % every == 0 }

    /// `checkpoint(position, …)` when `isDue(step: position.step)`.
    public func checkpointIfDue(_ position: TrainingPosition, progress: @autoclosure () throws -> String = "",
                                extraTensors: @autoclosure () -> [String: Tensor] = [:]) throws {
        guard isDue(step: position.step) else { return }
        try checkpoint(position, progress: progress(), extraTensors: extraTensors())
    }

    /// Writes the checkpoint now. Every rank must call it (the generator states of all ranks
    /// are gathered); rank 0 alone writes the file.
    public func checkpoint(_ position: TrainingPosition, progress: String = "", extraTensors: [String: Tensor] = [:]) throws {
        let mine = ModelRandomState.capture(model)
        let keys = mine.keys.sorted()
        let gathered = try world.allGather(ModelRandomState.flatten(mine, keys: keys))
        guard world.isLeader, let folder else { return }
        let states = gathered.map { values in Dictionary(uniqueKeysWithValues: zip(keys, values)) }
        var params: [String: Tensor] = [:]
        for (name, p) in parameters { params[name] = Tensor(p.storage, shape: p.shape) }
        let ckpt = TrainingCheckpoint(command: command, position: position, config: config, baseModel: baseModel, randomStates: states,
                                      parameters: params, optimizer: optimizer.stateDict(), extraTensors: extraTensors, progress: progress)
        try ckpt.write(to: folder)
    }
}
