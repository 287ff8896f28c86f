import Foundation

/// How several adapters on one `Linear` combine (issue 17, "Composition").
public enum CompositionMode: Equatable, Sendable {
    /// Sequential, as AdapterHub's `Stack`: each adapter sees the previous one's output as
    /// its base output (`y = a_n(…a_2(a_1(base))…)`).
    case stack
    /// Summed deltas, each against the plain base: `y = base + Σ_k (a_k(x) − base)`.
    case parallel
    /// Weighted average of deltas (task arithmetic): `ΔW = Σ_k w_k·ΔW_k`, members of one method
    /// with identically shaped state.
    case average([Float])
    /// AdapterFusion-style attention over the members' outputs (Pfeiffer et al. 2021): query
    /// from the base output, keys and values from each member's output, softmax over members.
    case fuse
}

/// Several adapters acting on one `Linear` as one adapter. Members stay owned by their
/// `PeftModel` records (and are saved under their own names); the composition itself saves only
/// its fusion weights: `fusion_query.weight`, `fusion_key.weight`, `fusion_value.weight`
/// (`[out, out]`; query and key small random, value the identity so one member alone passes
/// through unchanged), under the adapter name `composition`.
///
/// Merging: `stack` merges members in order (each against the weight the previous one left, as
/// the forward sees it); `parallel` and `average` fold `Σ w_k·ΔW_k` with every `ΔW_k` measured
/// against the unmerged layer; `fuse` does not merge (the mixing depends on each input).
public final class ComposedAdapter: Module, ManagedLinearAdapter {
    public let mode: CompositionMode
    public let members: [(name: String, adapter: any ManagedLinearAdapter)]
    public let fusionQuery: Tensor?, fusionKey: Tensor?, fusionValue: Tensor?
    public var adapterName = "composition"
    private var mergedDelta: (weight: [Float], bias: [Float]?)?

    public init(mode: CompositionMode, members: [(String, any ManagedLinearAdapter)], outFeatures: Int, seed: UInt64 = 0) {
        self.mode = mode
        self.members = members.map { (name: $0.0, adapter: $0.1) }
        if mode == .fuse {
            var rng = SplitMix64(seed: seed)
            fusionQuery = Tensor.normal([outFeatures, outFeatures], std: 0.02, using: &rng, requiresGrad: true)
            fusionKey = Tensor.normal([outFeatures, outFeatures], std: 0.02, using: &rng, requiresGrad: true)
            var eye = [Float](repeating: 0, count: outFeatures * outFeatures)
            for i in 0..<outFeatures { eye[i * outFeatures + i] = 1 }
            fusionValue = Tensor(eye, shape: [outFeatures, outFeatures], requiresGrad: true)
        } else {
            fusionQuery = nil
            fusionKey = nil
            fusionValue = nil
        }
        super.init()
    }

    public func stateEntries() -> [(String, Tensor)] {
        guard let q = fusionQuery, let k = fusionKey, let v = fusionValue else { return [] }
        return [("fusion_query.weight", q), ("fusion_key.weight", k), ("fusion_value.weight", v)]
    }
    override public func namedLocalParameters() -> [(String, Tensor)] { taggedEntries() }
    public var isMergeable: Bool { mode != .fuse && members.allSatisfy { $0.adapter.isMergeable } }

    var weights: [Float] {
        if case let .average(w) = mode { return w }
        return [Float](repeating: 1, count: members.count)
    }

    public func forward(input: Tensor, baseOutput: Tensor, layer: Linear) -> Tensor {
        switch mode {
        case .stack:
            return members.reduce(baseOutput) { y, m in m.adapter.forward(input: input, baseOutput: y, layer: layer) }
        case .parallel, .average:
            var y = baseOutput
            for (m, w) in zip(members, weights) where w != 0 {
                let delta = m.adapter.forward(input: input, baseOutput: baseOutput, layer: layer) - baseOutput
                y = y + (w == 1 ? delta : delta * w)
            }
            return y
        case .fuse:
            let outs = members.map { $0.adapter.forward(input: input, baseOutput: baseOutput, layer: layer) }
            let q = baseOutput.linear(weight: fusionQuery!)
            // Scores [.., K]: q·(o_k Wkᵀ) per member, softmax over members.
            let scores = Tensor.concat(outs.map { (q * $0.linear(weight: fusionKey!)).sum(axis: -1, keepDims: true) }, axis: -1).softmax()
            var y: Tensor?
            for (k, o) in outs.enumerated() {
                let term = scores.slice(axis: -1, k..<(k + 1)) * o.linear(weight: fusionValue!)
                y = y.map { $0 + term } ?? term
            }
            return y!
        }
    }

    public func merge(into layer: Linear) {
        precondition(isMergeable, AdapterError.notMergeable(method: "composition (\(mode))").description)
        if mode == .stack {
            for m in members { m.adapter.merge(into: layer) }
            return
        }
        let w0 = layer.weight.storage, b0 = layer.bias?.storage
        var dw = [Float](repeating: 0, count: w0.count)
        var db = b0.map { [Float](repeating: 0, count: $0.count) }
        for (m, w) in zip(members, weights) where w != 0 {
            // Each member's delta against the unmerged layer, measured on a scratch copy.
            let scratch = Linear(weight: Tensor(w0, shape: layer.weight.shape), bias: b0.map { Tensor($0, shape: [$0.count]) })
            m.adapter.merge(into: scratch)
            for i in 0..<dw.count { dw[i] += w * (scratch.weight.storage[i] - w0[i]) }
            if let sb = scratch.bias, let b0 { for i in 0..<b0.count { db![i] += w * (sb.storage[i] - b0[i]) } }
        }
        for i in 0..<dw.count { layer.weight.storage[i] += dw[i] }
        if let db, let b = layer.bias { for i in 0..<db.count { b.storage[i] += db[i] } }
        mergedDelta = (dw, db)
    }

    public func unmerge(from layer: Linear) {
        if mode == .stack {
            for m in members.reversed() { m.adapter.unmerge(from: layer) }
            return
        }
        guard let (dw, db) = mergedDelta else { return }
        for i in 0..<dw.count { layer.weight.storage[i] -= dw[i] }
        if let db, let b = layer.bias { for i in 0..<db.count { b.storage[i] -= db[i] } }
        mergedDelta = nil
    }
}

extension PeftModel {
    /// Activates a composition of the named adapters on every layer where at least one of them
    /// sits: all adapters are detached from the layers (`setActiveAdapters([])`, which also
    /// freezes them) and one `ComposedAdapter` named `composition` is attached per layer. Only
    /// fusion weights train. Throws for unknown names, a weight list of the wrong length, an
    /// `average` over different methods or shapes, or an existing composition.
    @discardableResult
    public func compose(_ names: [String], mode: CompositionMode, seed: UInt64 = 0) throws -> [(key: String, adapter: ComposedAdapter)] {
        guard !names.isEmpty else { throw AdapterError.invalidSetting("compose: give at least one adapter name") }
        for n in names where config(n) == nil { throw AdapterError.unknownAdapter(name: n, available: configs.map(\.name)) }
        if case let .average(w) = mode, w.count != names.count {
            throw AdapterError.invalidSetting("compose: \(w.count) weights for \(names.count) adapters; give one weight per adapter")
        }
        if !compositions().isEmpty { throw AdapterError.invalidSetting("compose: a composition is already active; call removeComposition() first") }
        var perLayer: [String: (Linear, [(String, any ManagedLinearAdapter)])] = [:]
        var order: [String] = []
        for n in names {
            for a in records[n]?.attachments ?? [] {
                if perLayer[a.key] == nil { perLayer[a.key] = (a.layer, []); order.append(a.key) }
                perLayer[a.key]!.1.append((n, a.adapter))
            }
        }
        if case .average = mode {
            let methods = Set(names.compactMap { config($0)?.method })
            guard methods.count == 1 else {
                throw AdapterError.invalidSetting("compose: a weighted average needs adapters of one method (got \(methods.map(\.rawValue).sorted().joined(separator: ", "))); use parallel instead")
            }
            for key in order {
                let shapes = perLayer[key]!.1.map { $0.1.stateEntries().map(\.1.shape) }
                guard perLayer[key]!.1.count == names.count, shapes.allSatisfy({ $0 == shapes[0] }) else {
                    throw AdapterError.invalidSetting("compose: adapters \(names) differ in shape (or presence) on '\(key)'; a weighted average needs identically shaped adapters")
                }
            }
        }
        try setActiveAdapters([])
        var out: [(key: String, adapter: ComposedAdapter)] = []
        for key in order {
            let (layer, members) = perLayer[key]!
            let c = ComposedAdapter(mode: mode, members: members, outFeatures: layer.outFeatures, seed: SplitMix64(seed: seed).fork(stableHash(key)).state)
            layer.attach(c, name: "composition")
            out.append((key, c))
        }
        return out
    }

    /// The attached compositions by module key.
    public func compositions() -> [(key: String, adapter: ComposedAdapter)] {
        base.namedModules().compactMap { key, m in
            guard let l = m as? Linear, let c = l.adapters.first(where: { $0.name == "composition" })?.adapter as? ComposedAdapter else { return nil }
            return (key, c)
        }
    }

    /// Folds the active composition into the weights (throws when a member or `fuse` cannot merge).
    public func mergeComposition() throws {
        for (key, c) in compositions() where !c.isMergeable {
            throw AdapterError.notMergeable(method: "composition (\(c.mode)) on '\(key)'")
        }
        for l in base.namedModules().compactMap({ $0.1 as? Linear }) where l.adapters.contains(where: { $0.name == "composition" }) {
            l.merge(name: "composition")
        }
    }

    /// Detaches the composition (unmerging first); the members stay inactive until `setActiveAdapters`.
    public func removeComposition() {
        for l in base.namedModules().compactMap({ $0.1 as? Linear }) { l.detach(name: "composition") }
    }
}
