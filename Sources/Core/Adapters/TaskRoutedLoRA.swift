/// Omni-AVSR's Omni-LoRA on one `Linear`: a shared LoRA (S), one LoRA per task id (T), or
/// both summed before scaling (ST):
///
///     ST: y = W·x + b + s·(B_t·A_t·x + B_s·A_s·x)
///
/// The task of the current forward is set on the adapter (`task = "audio"`) before the call
/// (one task per batch, as in the reference code). Keys: `shared.lora_A.weight`,
/// `tasks.<task>.lora_A.weight`, and the same for `lora_B`.
///
/// ```swift
/// let omni = try TaskRoutedLoRA(inFeatures: 2048, outFeatures: 2048, tasks: ["asr", "vsr", "avsr"],
///                               mode: .sharedAndTask, rank: 64, scaling: 0.125, seed: 1)
/// q.attach(omni); omni.task = "vsr"
/// ```
public final class TaskRoutedLoRA: Module, ManagedLinearAdapter {
    public let mode: TaskLoRAMode
    public let shared: LoRA?
    /// Task LoRAs in declaration order.
    public let taskAdapters: [(task: String, lora: LoRA)]
    /// Task of the next forward; required in `.task` / `.sharedAndTask` modes.
    public var task: String?
    public var adapterName = "default"

    public init(mode: TaskLoRAMode, shared: LoRA?, tasks: [(String, LoRA)]) {
        precondition(mode == .task || shared != nil, "TaskRoutedLoRA: mode \(mode) needs a shared LoRA")
        precondition(mode == .shared || !tasks.isEmpty, "TaskRoutedLoRA: mode \(mode) needs task LoRAs")
        self.mode = mode
        self.shared = mode == .task ? nil : shared
        taskAdapters = mode == .shared ? [] : tasks.map { (task: $0.0, lora: $0.1) }
        super.init()
    }

    /// Fresh LoRAs for each task (and the shared one), seeded by name.
    public convenience init(
        inFeatures: Int, outFeatures: Int, tasks: [String], mode: TaskLoRAMode, rank: Int, scaling: Float,
        dropout: Float = 0, initialization: LoRAInit = .kaimingA, seed: UInt64, key: String = "TaskRoutedLoRA"
    ) throws {
        let root = SplitMix64(seed: seed)
        func make(_ name: String) throws -> LoRA {
            try LoRA(
                inFeatures: inFeatures, outFeatures: outFeatures, rank: rank, scaling: scaling, dropout: dropout,
                initialization: initialization, seed: root.fork(stableHash(name)).state, key: key + "." + name)
        }
        let shared = mode == .task ? nil : try make("shared")
        let perTask = mode == .shared ? [] : try tasks.map { ($0, try make($0)) }
        self.init(mode: mode, shared: shared, tasks: perTask)
    }

    public func stateEntries() -> [(String, Tensor)] {
        var out = shared.map { s in s.stateEntries().map { ("shared.\($0.0)", $0.1) } } ?? []
        for (t, l) in taskAdapters { out += l.stateEntries().map { ("tasks.\(t).\($0.0)", $0.1) } }
        return out
    }
    override public func namedLocalParameters() -> [(String, Tensor)] { taggedEntries() }
    /// Mergeable only in shared mode (otherwise the weight depends on the task of each call).
    public var isMergeable: Bool { mode == .shared }

    public func forward(input: Tensor, baseOutput: Tensor, layer: Linear) -> Tensor {
        var y = baseOutput
        if let s = shared { y = y + s.branch(input, training: layer.isTraining) }
        if mode != .shared {
            guard let t = task, let l = taskAdapters.first(where: { $0.task == t })?.lora else {
                preconditionFailure("TaskRoutedLoRA: set `task` to one of \(taskAdapters.map(\.task)) before the forward (got \(task ?? "nil"))")
            }
            // Each LoRA carries the same scaling, so s·(B_t A_t x) + s·(B_s A_s x) = s·(sum).
            y = y + l.branch(input, training: layer.isTraining)
        }
        return y
    }

    public func merge(into layer: Linear) {
        precondition(mode == .shared, AdapterError.notMergeable(method: "task-routed LoRA (\(mode.rawValue))").description)
        shared?.merge(into: layer)
    }

    public func unmerge(from layer: Linear) { if mode == .shared { shared?.unmerge(from: layer) } }
}
