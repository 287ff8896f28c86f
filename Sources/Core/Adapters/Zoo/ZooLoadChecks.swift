import Foundation

/// Checks `PeftModel.load` runs on a zoo adapter after the file's tensors are copied in, so a
/// file that is corrupt, edited by hand or assembled from two checkpoints is a one-line error
/// naming the file and the key instead of a silently different model:
///
/// - indices and locations in range for their layer (`ZooAdapter.validateLoaded`);
/// - MoS: the layers that share one shard pool carry the same pool in the file (otherwise the
///   tied pool would silently take the last layer's copy);
/// - RandLoRA: every layer's frozen bases are slices of one shared basis, as peft builds them
///   from `projection_prng_key`, and agree with the model-level `base_model.randlora_A/B`
///   when the file has them (peft loads those and ignores the per-layer copies).
extension PeftModel {
    func validateZooLoad(_ name: String, tensors: [String: Tensor], file: String) throws {
        guard let rec = records[name], rec.attachments.contains(where: { $0.adapter is ZooAdapter }) else { return }
        try validateZooBuffers(name, file: file)
        try checkSharedPools(name, tensors: tensors, file: file)
        try checkRandLoRABases(name, tensors: tensors, file: file)
    }

    /// Every file copy of a tied MoS pool must equal the pool now in use.
    private func checkSharedPools(_ name: String, tensors: [String: Tensor], file: String) throws {
        for (key, adapter) in adapters(named: name) {
            guard let mos = adapter as? MixtureOfShards else { continue }
            for (entry, pool) in [("mos_pool_A", mos.poolA), ("mos_pool_B", mos.poolB)] {
                let k = PeftModel.keyPrefix + key + "." + entry
                if let t = tensors[k], t.storage != pool.storage {
                    throw AdapterError.badFile(file: file, detail: "\(k) differs from the other layers' copy of the shared MoS pool of shape \(pool.shape); the layers of one shape share one pool, so the file is inconsistent (edited or mixed from two checkpoints)")
                }
            }
        }
    }

    /// RandLoRA bases: consistent across layers and with the model-level copies.
    private func checkRandLoRABases(_ name: String, tensors: [String: Tensor], file: String) throws {
        let layers = adapters(named: name).compactMap { k, a in (a as? RandLoRA).map { (key: k, layer: $0) } }
        guard let first = layers.first else { return }
        // The reference: the file's model-level bases, else the largest layer's (all others are its slices).
        let sharedA = tensors["base_model.randlora_A"], sharedB = tensors["base_model.randlora_B"]
        let refA = sharedA ?? layers.max { $0.layer.basisA.shape[2] < $1.layer.basisA.shape[2] }!.layer.basisA
        let refB = sharedB ?? layers.max { $0.layer.basisB.count < $1.layer.basisB.count }!.layer.basisB
        guard refA.shape.count == 3, refA.shape[0] == first.layer.rank, refA.shape[1] == 1, refB.shape.count == 3, refB.shape[2] == first.layer.rank else {
            throw AdapterError.badFile(file: file, detail: "base_model.randlora_A \(refA.shape) / base_model.randlora_B \(refB.shape) do not have rank \(first.layer.rank) of the config (expected [r, 1, m] and [M, N, r])")
        }
        let m = refA.shape[2], bigM = refB.shape[0], bigN = refB.shape[1], r = first.layer.rank
        for (key, l) in layers {
            let lm = l.basisA.shape[2], lM = l.basisB.shape[0], lN = l.bases
            guard lm <= m, lM <= bigM, lN <= bigN else {
                throw AdapterError.badFile(file: file, detail: "\(key): RandLoRA bases \(l.basisA.shape), \(l.basisB.shape) are larger than the shared ones \(refA.shape), \(refB.shape)")
            }
            let aOK = (0..<r).allSatisfy { k in (0..<lm).allSatisfy { j in l.basisA.storage[k * lm + j] == refA.storage[k * m + j] } }
            let bOK = aOK && (0..<lM).allSatisfy { p in
                (0..<lN).allSatisfy { q in (0..<r).allSatisfy { k in l.basisB.storage[(p * lN + q) * r + k] == refB.storage[(p * bigN + q) * r + k] } }
            }
            guard aOK && bOK else {
                let what = sharedA != nil ? "the model-level base_model.randlora_A/B" : "the other layers' bases"
                throw AdapterError.badFile(file: file, detail: "\(PeftModel.keyPrefix)\(key).randlora_\(aOK ? "B" : "A") is not a slice of \(what); RandLoRA layers share one basis drawn from projection_prng_key, so the file is inconsistent")
            }
        }
    }
}
