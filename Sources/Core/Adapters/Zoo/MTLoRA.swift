/// MTLoRA (Agiza, Neseem, Reda, CVPR 2024; code `scale-lab/MTLoRA`, `MTLoRALinear`): a shared
/// (task-agnostic) LoRA plus one LoRA per task on the same frozen layer.
///
///     h   = x·W0ᵀ + b0
///     y   = h + s·(x·A_sᵀ)·B_sᵀ                      shared output (task = nil)
///     y_t = h + s·(x·A_tᵀ)·B_tᵀ                      mode "matrix" (the code's default)
///     y_t = y + s·(x·A_tᵀ)·B_tᵀ                      mode "matrixv2"
///
/// In the default mode a task output omits the shared LoRA (a quirk of the code, kept). The
/// task of the next forward is set on the adapter (`task = "seg"`); `nil` gives the shared
/// output. Only the shared branch merges (task branches would need one weight per task), so
/// the adapter is mergeable only while it has no tasks.
///
/// Keys: `shared.lora_A.weight`, `shared.lora_B.weight`, `tasks.<t>.lora_A.weight`, … .
/// Init: A Kaiming-uniform (a = √5), B zero → unchanged at init. Params: `r(in + out)(1 + T)`.
public final class MTLoRA: ZooAdapter {
    public let shared: LoRA
    public let taskAdapters: [(task: String, lora: LoRA)]
    public let includeShared: Bool
    /// Task of the next forward (nil: the shared output).
    public var task: String?

    public init(shared: LoRA, tasks: [(String, LoRA)], includeShared: Bool) {
        self.shared = shared
        taskAdapters = tasks.map { (task: $0.0, lora: $0.1) }
        self.includeShared = includeShared
        super.init()
    }

    public convenience init(inFeatures: Int, outFeatures: Int, tasks: [String], rank: Int, scaling: Float, includeShared: Bool,
                            seed: UInt64, key: String = "MTLoRA") throws {
        let root = SplitMix64(seed: seed)
        func make(_ name: String) throws -> LoRA {
            try LoRA(inFeatures: inFeatures, outFeatures: outFeatures, rank: rank, scaling: scaling, seed: root.fork(stableHash(name)).state, key: key + "." + name)
        }
        self.init(shared: try make("shared"), tasks: try tasks.map { ($0, try make($0)) }, includeShared: includeShared)
    }

    override public func trainableEntries() -> [(String, Tensor)] {
        var out = shared.stateEntries().map { ("shared.\($0.0)", $0.1) }
        for (t, l) in taskAdapters { out += l.stateEntries().map { ("tasks.\(t).\($0.0)", $0.1) } }
        return out
    }

    override public var isMergeable: Bool { taskAdapters.isEmpty }

    override public func forward(input: Tensor, baseOutput: Tensor, layer: Linear) -> Tensor {
        guard let t = task else { return baseOutput + shared.lowRankDelta(input) }
        guard let l = taskAdapters.first(where: { $0.task == t })?.lora else {
            preconditionFailure("MTLoRA: task '\(t)' is not one of \(taskAdapters.map(\.task))")
        }
        let start = includeShared ? baseOutput + shared.lowRankDelta(input) : baseOutput
        return start + l.lowRankDelta(input)
    }

    /// The shared branch's `s·B_s·A_s` (what merging folds in).
    override public func deltaWeight(layer: Linear) -> Tensor { shared.loraB.matmul(shared.loraA) * shared.scaling }
}
