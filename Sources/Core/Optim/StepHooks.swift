import Foundation

/// Something that acts after an optimizer has updated parameters it watches: adapters whose
/// structure changes during training (TriAdaptLoRA's rank growth) use it so that every
/// training loop drives them without a call of its own.
public protocol OptimizerStepObserver: AnyObject {
    /// Called at the end of `optimizer.step(parameters)` when `parameters` contains a watched
    /// tensor. Runs after every update of that step, so the values it sees are post-update.
    func optimizerDidStep(_ optimizer: any Optimizer, parameters: [(String, Tensor)])
}

/// The process-wide list of post-step observers, keyed by the parameter tensors they watch.
///
/// Why a registry keyed by tensors instead of a list on each optimizer: trainers build their
/// optimizer from `peft.trainableParameters()` and never tell the `PeftModel` about it, so the
/// model cannot reach the optimizer; the optimizer can, however, recognise the tensors it is
/// stepping. Observers and tensors are held weakly: a deleted adapter or model drops out by
/// itself. Observers run in registration order. With nothing registered (every method but
/// TriAdaptLoRA) a step costs one locked read of an empty array.
public enum OptimizerStepHooks {
    final class Entry {
        weak var observer: (any OptimizerStepObserver)?
        /// Watched tensors (weak, so a stale `ObjectIdentifier` can never match a new tensor).
        let tensors: [WeakTensor]
        init(_ observer: any OptimizerStepObserver, _ tensors: [Tensor]) {
            self.observer = observer
            self.tensors = tensors.map(WeakTensor.init)
        }
    }

    struct WeakTensor {
        weak var tensor: Tensor?
        init(_ t: Tensor) { tensor = t }
    }

    final class Registry: @unchecked Sendable {
        private let lock = NSLock()
        private var entries: [Entry] = []

        func add(_ e: Entry) {
            lock.lock(); defer { lock.unlock() }
            entries.removeAll { $0.observer == nil }
            entries.append(e)
        }

        func remove(_ observer: any OptimizerStepObserver) {
            lock.lock(); defer { lock.unlock() }
            entries.removeAll { $0.observer == nil || $0.observer === observer }
        }

        func snapshot() -> [Entry] {
            lock.lock(); defer { lock.unlock() }
            return entries
        }
    }

    static let registry = Registry()

    /// Calls `observer` after every optimizer step whose parameter list contains one of `tensors`.
    public static func register(_ observer: any OptimizerStepObserver, watching tensors: [Tensor]) {
        registry.add(Entry(observer, tensors))
    }

    /// Stops calling `observer`.
    public static func unregister(_ observer: any OptimizerStepObserver) { registry.remove(observer) }

    /// Runs the observers that watch any of `parameters` (called by the optimizers at the end of `step`).
    public static func notify(_ optimizer: any Optimizer, parameters: [(String, Tensor)]) {
        let entries = registry.snapshot()
        guard !entries.isEmpty else { return }
        let stepped = Set(parameters.map { ObjectIdentifier($0.1) })
        for e in entries {
            guard let observer = e.observer else { continue }
            // Identity of a live tensor: the weak reference guarantees the object still exists.
            let hit = e.tensors.contains { w in w.tensor.map { stepped.contains(ObjectIdentifier($0)) } ?? false }
            if hit { observer.optimizerDidStep(optimizer, parameters: parameters) }
        }
    }
}
