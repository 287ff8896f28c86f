import Core
import Foundation

/// A training sentence named by where it lives: domain `domain`'s training item `index`. The
/// replay buffer and the GEM memories hold these (not the items), so a checkpoint saves a few
/// integers and every rank resolves them to the same items.
struct GECItemRef: Codable, Sendable, Hashable {
    var domain: Int
    var index: Int
}

/// What each continual method keeps between domains and how it changes a gradient.
///
/// Data parallelism (see docs/distributed.md): every piece of state here is identical on all
/// ranks, because it is either computed from all-reduced sums or drawn from generators that
/// every rank advances identically:
/// - replay buffer offers and samples, GEM memory choices and A-GEM's memory sample use seeded
///   generators and no gradient, so each rank makes the same draws as one process;
/// - GEM/A-GEM memory gradients: each rank takes its `DataShard` slice of the memory, and the
///   token-weighted all-reduce gives the gradient of the mean loss over the whole memory, as
///   one process computes it (up to Float32 summation order);
/// - EWC's Fisher: the samples are split over the ranks, each squares its per-example
///   gradients, and the sums (and the sample count) are all-reduced before consolidation;
/// - OGD: each rank computes the per-example gradients of its share of the samples, one
///   all-reduce of a [samples × parameters] buffer (zeros elsewhere, so each row is exactly
///   the one rank's gradient) gives every rank all of them, and Gram–Schmidt runs in the same
///   order on every rank — the basis is bit-identical to one process's;
/// - the step's own gradient is all-reduced before `adjustGradients`, so EWC's penalty
///   gradient and the projections act on the global gradient, identically on every rank.
final class GECContinualMethodState {
    let options: GECContinualOptions
    /// Every domain's training items (the refs point into it).
    let items: [[GECTrainingItem]]
    let world: any Distributed
    var replay: ReservoirBuffer<GECItemRef>
    let ewc: EWCPenalty
    var memories: [[GECItemRef]] = []
    let basis: OrthogonalBasis
    var projections = 0
    var rng: SplitMix64

    init(options: GECContinualOptions, items: [[GECTrainingItem]], world: any Distributed) {
        self.options = options
        self.items = items
        self.world = world
        replay = ReservoirBuffer(capacity: options.replayCapacity, seed: options.seed &+ 11)
        ewc = EWCPenalty(lambda: options.ewcLambda)
        basis = OrthogonalBasis(maxSize: options.ogdMaxBasis)
        rng = SplitMix64(seed: options.seed &+ 29)
    }

    func resolve(_ refs: [GECItemRef]) -> [GECTrainingItem] { refs.map { items[$0.domain][$0.index] } }

    /// Replay examples for the next batch (the same on every rank).
    func replaySample() -> [GECTrainingItem] {
        options.method == .replay ? resolve(replay.sample(options.replayPerBatch)) : []
    }

    /// Called after the step's gradient has been averaged over the ranks.
    func adjustGradients(tagger: GECTagger, params: [(String, Tensor)]) throws {
        switch options.method {
        case .ewc:
            if ewc.isActive { ewc.addGradient(params) }
        case .gem where !memories.isEmpty:
            let g = ParameterVector.gradients(params)
            var memGrads: [[Float]] = []
            for m in memories { memGrads.append(try gradient(of: resolve(m), tagger: tagger, params: params)) }
            let r = GradientEpisodicMemory.project(g, memories: memGrads, margin: options.gemMargin)
            if r.projected { projections += 1 }
            ParameterVector.setGradients(params, r.gradient)
        case .agem where !memories.isEmpty:
            let g = ParameterVector.gradients(params)
            let pool = memories.flatMap { $0 }
            let sample = (0..<min(options.memoryPerDomain, pool.count)).map { _ in pool[Int(rng.next() % UInt64(pool.count))] }
            let ref = try gradient(of: resolve(sample), tagger: tagger, params: params)
            let r = GradientEpisodicMemory.projectAveraged(g, reference: ref)
            if r.projected { projections += 1 }
            ParameterVector.setGradients(params, r.gradient)
        case .ogd where !basis.vectors.isEmpty:
            ParameterVector.setGradients(params, basis.project(ParameterVector.gradients(params)))
        default:
            break
        }
    }

    /// The loss gradient of `items` (mean over their labelled tokens) as a flat vector;
    /// gradients cleared before and after. Each rank computes its slice, the all-reduce
    /// combines them.
    func gradient(of items: [GECTrainingItem], tagger: GECTagger, params: [(String, Tensor)]) throws -> [Float] {
        for (_, p) in params { p.zeroGrad() }
        let mine = DataShard.slice(items, rank: world.rank, size: world.size)
        let weight = tagger.lossWeight(mine)
        if weight > 0 { try tagger.loss(mine).backward() }
        try GradientAllReduce(parameters: params).average(localWeight: weight, over: world)
        let g = ParameterVector.gradients(params)
        for (_, p) in params { p.zeroGrad() }
        return g
    }

    /// Called when a domain's training ends.
    func finishDomain(_ t: Int, tagger: GECTagger, params: [(String, Tensor)]) throws {
        let domainItems = items[t]
        var r = SplitMix64(seed: options.seed).fork(UInt64(500 + t))
        var order = Array(domainItems.indices)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(r.next() % UInt64(i + 1))) }
        let wasTraining = tagger.model.isTraining
        tagger.model.eval()
        defer { tagger.model.train(wasTraining) }
        switch options.method {
        case .replay:
            for i in order { replay.offer(GECItemRef(domain: t, index: i)) }
        case .ewc:
            // Empirical Fisher from single-example gradients, dropout off; each rank squares its share.
            let samples = Array(order.prefix(options.fisherSamples))
            for i in DataShard.slice(samples, rank: world.rank, size: world.size) {
                for (_, p) in params { p.zeroGrad() }
                try tagger.loss([domainItems[i]]).backward()
                ewc.accumulate(params)
            }
            for (_, p) in params { p.zeroGrad() }
            try ewc.allReducePending(params, over: world)
            ewc.consolidate(params)
        case .gem, .agem:
            memories.append(order.prefix(options.memoryPerDomain).map { GECItemRef(domain: t, index: $0) })
        case .ogd:
            let samples = Array(order.prefix(options.ogdSamplesPerDomain))
            if world.size == 1 {
                for i in samples { basis.add(try Self.exampleGradient(domainItems[i], tagger: tagger, params: params)) }
            } else {
                let n = ParameterVector.count(params)
                var all = [Float](repeating: 0, count: samples.count * n)
                for k in DataShard.range(count: samples.count, rank: world.rank, size: world.size) {
                    let g = try Self.exampleGradient(domainItems[samples[k]], tagger: tagger, params: params)
                    all.replaceSubrange((k * n)..<((k + 1) * n), with: g)
                }
                try world.allReduceSum(&all)
                for k in 0..<samples.count { basis.add(Array(all[(k * n)..<((k + 1) * n)])) }
            }
        default:
            break
        }
    }

    /// One example's loss gradient, flat (gradients cleared before and after; no all-reduce).
    static func exampleGradient(_ item: GECTrainingItem, tagger: GECTagger, params: [(String, Tensor)]) throws -> [Float] {
        for (_, p) in params { p.zeroGrad() }
        try tagger.loss([item]).backward()
        let g = ParameterVector.gradients(params)
        for (_, p) in params { p.zeroGrad() }
        return g
    }
}
