/// How far merged outputs are from unmerged ones on a probe batch.
public struct MergeCheck: CustomStringConvertible, Sendable {
    /// Largest |merged − unmerged|.
    public let maxAbsDeviation: Float
    /// `maxAbsDeviation` divided by the largest |unmerged| value.
    public let relativeDeviation: Float
    /// The issue's goal: relative deviation ≤ 1e-5.
    public var withinGoal: Bool { relativeDeviation <= 1e-5 }

    public var description: String {
        "merge check: max |merged − unmerged| \(maxAbsDeviation) (relative \(relativeDeviation))\(withinGoal ? "" : " — above the 1e-5 goal")"
    }
}

extension PeftModel {
    /// Folds the named (default: active) adapters into the base weights. Selections and
    /// `modules_to_save` already live in the base, so they need nothing. Throws for adapters
    /// whose output depends on per-call inputs (experts, task routing).
    public func merge(_ names: [String]? = nil) throws {
        let targets = names ?? activeAdapters
        for n in targets {
            guard let rec = records[n] else { throw AdapterError.unknownAdapter(name: n, available: configs.map(\.name)) }
            if let bad = rec.attachments.first(where: { !$0.adapter.isMergeable }) {
                throw AdapterError.notMergeable(method: "\(type(of: bad.adapter)) on '\(bad.key)'")
            }
        }
        for n in targets {
            for a in records[n]!.attachments where a.layer.adapters.contains(where: { $0.name == n }) {
                a.layer.merge(name: n)
            }
        }
    }

    /// Undoes every merge (restores the base weights up to float rounding).
    public func unmerge() {
        for (n, rec) in records {
            for a in rec.attachments where a.layer.mergedAdapters.contains(n) { a.layer.unmerge(name: n) }
        }
    }

    /// Whether any adapter is currently folded into a weight.
    public var isMerged: Bool { records.contains { n, r in r.attachments.contains { $0.layer.mergedAdapters.contains(n) } } }

    /// Merges and measures the deviation: `probe` runs the model on a fixed batch before and
    /// after merging (both without gradient recording).
    @discardableResult
    public func verifiedMerge(_ names: [String]? = nil, probe: () -> Tensor) throws -> MergeCheck {
        let before = withoutGrad { probe() }
        try merge(names)
        let after = withoutGrad { probe() }
        precondition(before.shape == after.shape, "verifiedMerge: probe output changed shape")
        var maxDiff: Float = 0, maxRef: Float = 0
        for i in 0..<before.count {
            maxDiff = Swift.max(maxDiff, Swift.abs(before.storage[i] - after.storage[i]))
            maxRef = Swift.max(maxRef, Swift.abs(before.storage[i]))
        }
        return MergeCheck(maxAbsDeviation: maxDiff, relativeDeviation: maxRef > 0 ? maxDiff / maxRef : maxDiff)
    }

    /// Merges the active adapters for good and removes every adapter: the base model alone
    /// remains, computing what the adapted model computed (peft's `merge_and_unload`).
    /// Unfrozen base parameters keep their trained values. Everything ends frozen.
    @discardableResult
    public func mergeAndUnload() throws -> Module {
        try merge()
        let active = Set(activeAdapters)
        for (n, rec) in records {
            for a in rec.attachments {
                let wasMerged = a.layer.mergedAdapters.contains(n)
                a.layer.detach(name: n)  // Linear unmerges on detach, so fold again below
                if wasMerged && active.contains(n) { withoutGrad { a.adapter.merge(into: a.layer) } }
            }
            if !active.contains(n) { for s in rec.selected { s.tensor.storage = s.original } }
        }
        finishUnload()
        return base
    }

    /// Removes every adapter without merging and restores unfrozen base parameters to their
    /// values before injection (peft's `unload`).
    @discardableResult
    public func unload() -> Module {
        if !adaptersEnabled { enableAdapters() }
        for (n, rec) in records {
            for a in rec.attachments { a.layer.detach(name: n) }
            for s in rec.selected { s.tensor.storage = s.original }
        }
        finishUnload()
        return base
    }

    private func finishUnload() {
        for l in base.namedModules().compactMap({ $0.1 as? Linear }) { l.adaptersEnabled = true }
        records.removeAll()
        configs.removeAll()
        activeAdapters.removeAll()
        base.freeze()
    }

    /// Base-model outputs only: adapters bypassed (unmerged first if merged) and unfrozen base
    /// parameters temporarily back at their original values.
    public func disableAdapters() {
        guard adaptersEnabled else { return }
        unmerge()
        adaptersEnabled = false
        for (_, rec) in records {
            for a in rec.attachments { a.layer.adaptersEnabled = false }
            for i in rec.selected.indices {
                let trained = rec.selected[i].tensor.storage
                rec.selected[i].tensor.storage = rec.selected[i].original
                rec.selected[i].original = trained  // swapped back by enableAdapters
            }
        }
    }

    /// Undoes `disableAdapters`.
    public func enableAdapters() {
        guard !adaptersEnabled else { return }
        adaptersEnabled = true
        for (_, rec) in records {
            for a in rec.attachments { a.layer.adaptersEnabled = true }
            for i in rec.selected.indices {
                let original = rec.selected[i].tensor.storage
                rec.selected[i].tensor.storage = rec.selected[i].original
                rec.selected[i].original = original
            }
        }
    }

    /// Runs `body` on the base model alone (peft's `with model.disable_adapter():`).
    public func withAdaptersDisabled<T>(_ body: () throws -> T) rethrows -> T {
        disableAdapters()
        defer { enableAdapters() }
        return try body()
    }
}
