import Core
import Testing
@testable import Graph
import TestSupport

/// The ComplEx-N3 objective written with Core's autograd ops: the independent reference for
/// the hand-written backward. `tables[0]` = entities `[N, 2k]`, `tables[1]` = relations `[2R, 2k]`.
func composedComplExLoss(_ tables: [Tensor], _ batch: [LinkQuery], rank k: Int, n3Weight: Float) -> Tensor {
    let ent = tables[0], rel = tables[1]
    let s = ent.indexSelect(axis: 0, batch.map(\.anchor))
    let p = rel.indexSelect(axis: 0, batch.map(\.relation))
    let o = ent.indexSelect(axis: 0, batch.map(\.answer))
    func re(_ x: Tensor) -> Tensor { x.slice(axis: 1, 0..<k) }
    func im(_ x: Tensor) -> Tensor { x.slice(axis: 1, k..<(2 * k)) }
    let q = Tensor.concat([re(s) * re(p) - im(s) * im(p), re(s) * im(p) + im(s) * re(p)], axis: 1)
    let ce = q.matmul(ent.transposed()).crossEntropy(targets: batch.map(\.answer))
    var n3 = Tensor(scalar: 0)
    for f in [s, p, o] { n3 = n3 + (re(f).square() + im(f).square()).sqrt().pow(3).sum() }
    return ce + n3 * (n3Weight / Float(batch.count))
}

@Suite struct ComplExGradientTests {
    // 5 entities, 2 relations (4 with reciprocals), rank 3: 54 parameters in all.
    static func tiny() -> (ComplExModel, [LinkQuery]) {
        let m = ComplExModel(entityCount: 5, relationCount: 2, rank: 3, initScale: 0.6, seed: 11)
        // Repeated rows (entity 1 as anchor and answer, relation 0 twice) exercise the scatter-add.
        let batch = [LinkQuery(anchor: 1, relation: 0, answer: 3), LinkQuery(anchor: 3, relation: 2, answer: 1),
                     LinkQuery(anchor: 4, relation: 1, answer: 1), LinkQuery(anchor: 0, relation: 0, answer: 0)]
        return (m, batch)
    }

    @Test func composedReferencePassesFiniteDifferences() {
        let (m, batch) = Self.tiny()
        let ent = Tensor(m.entity, shape: [5, 6], requiresGrad: true)
        let rel = Tensor(m.relation, shape: [4, 6], requiresGrad: true)
        let check = gradCheck([ent, rel]) { composedComplExLoss($0, batch, rank: 3, n3Weight: 0.3) }
        #expect(check.passed, "\(check)")
    }

    @Test func handBackwardMatchesAutogradAndFiniteDifferences() {
        let (m, batch) = Self.tiny()
        let lambda: Float = 0.3
        var g = ComplExGradients(for: m)
        let loss = m.lossAndGradients(batch, n3Weight: lambda, into: &g)

        // (1) Same value and gradient as the autograd composition.
        let ent = Tensor(m.entity, shape: [5, 6], requiresGrad: true)
        let rel = Tensor(m.relation, shape: [4, 6], requiresGrad: true)
        let ref = composedComplExLoss([ent, rel], batch, rank: 3, n3Weight: lambda)
        ref.backward()
        #expect(abs(loss.total - ref.item) < 1e-5, "loss \(loss.total) vs composed \(ref.item)")
        #expect(allClose(Tensor(g.entity, shape: [5, 6]), ent.grad!, atol: 1e-5, rtol: 1e-4))
        #expect(allClose(Tensor(g.relation, shape: [4, 6]), rel.grad!, atol: 1e-5, rtol: 1e-4))

        // (2) Central differences of the hand forward itself, every parameter.
        let eps: Float = 1e-2
        var worst = 0.0
        // The probe writes through a key path, never holding an access across the loss call.
        func probe(_ table: ReferenceWritableKeyPath<ComplExModel, [Float]>, _ i: Int, _ analytic: Float) {
            let saved = m[keyPath: table][i]
            m[keyPath: table][i] = saved + eps
            let plus = Double(m.loss(batch, n3Weight: lambda).total)
            m[keyPath: table][i] = saved - eps
            let minus = Double(m.loss(batch, n3Weight: lambda).total)
            m[keyPath: table][i] = saved
            let numeric = (plus - minus) / (2 * Double(eps))
            worst = max(worst, abs(Double(analytic) - numeric) / (2e-3 + 2e-2 * abs(numeric)))
        }
        for i in m.entity.indices { probe(\.entity, i, g.entity[i]) }
        for i in m.relation.indices { probe(\.relation, i, g.relation[i]) }
        #expect(worst <= 1, "worst finite-difference ratio \(worst)")
    }

    @Test func scoreIsRealPartOfTrilinearProduct() {
        // Hand-worked: rank 1, s = 1+2i, p = 3−i, o = 0.5+4i.
        // s∘p = (3+2) + (−1+6)i = 5+5i;  Re((5+5i)·conj(0.5+4i)) = 5·0.5 + 5·4 = 22.5.
        let m = try! ComplExModel(entityCount: 2, relationCount: 1, rank: 1,
                                  entity: [1, 2, 0.5, 4], relation: [3, -1, 0, 0])
        #expect(m.score(anchor: 0, relation: 0, answer: 1) == 22.5)
        let expected: [Float] = [15, 22.5]  // Re((5+5i)·conj(1+2i)) = 5 + 10
        #expect(m.scoreAll(anchors: [0], relations: [0]) == expected)
    }

    @Test func adagradMatchesHandWorkedSteps() {
        // θ = 1, g = 0.5, lr 0.1: G = 0.25, θ = 1 − 0.1·0.5/0.5 = 0.9;
        // again: G = 0.5, θ = 0.9 − 0.1·0.5/√0.5 = 0.82928932.  A zero gradient moves nothing.
        var opt = Adagrad(parameterCount: 2, learningRate: 0.1)
        var p: [Float] = [1, 7]
        opt.step(&p, gradient: [0.5, 0])
        #expect(abs(p[0] - 0.9) < 1e-7 && p[1] == 7)
        opt.step(&p, gradient: [0.5, 0])
        #expect(abs(p[0] - 0.829_289_32) < 1e-6 && p[1] == 7)
    }
}

/// A small graph whose held-out facts follow from training facts: `succ(x, x+1)`,
/// `pred(x+1, x)` (its inverse) and a symmetric `partner(x, x xor 1)`. A test fact is held
/// out only while its inverse / mirror stays in training, so it is inferable.
func syntheticGraph(entities n: Int, heldOut: Int, seed: UInt64) -> KGDataset {
    var rng = SplitMix64(seed: seed)
    var facts: [Triple] = []
    for x in 0..<n {
        facts.append(Triple(x, 0, (x + 1) % n))   // succ
        facts.append(Triple((x + 1) % n, 1, x))   // pred
        facts.append(Triple(x, 2, x ^ 1))         // partner (n even: symmetric pairs)
    }
    facts.shuffle(using: &rng)
    func mirror(_ t: Triple) -> Triple {
        switch t.relation {
        case 0: Triple(t.tail, 1, t.head)
        case 1: Triple(t.tail, 0, t.head)
        default: Triple(t.tail, 2, t.head)
        }
    }
    var test: [Triple] = [], valid: [Triple] = []
    var held = Set<Triple>()
    for t in facts where !held.contains(mirror(t)) && test.count + valid.count < 2 * heldOut {
        if test.count < heldOut { test.append(t) } else { valid.append(t) }
        held.insert(t)
    }
    let train = facts.filter { !held.contains($0) }
    let names = (0..<n).map { "e\($0)" }
    return KGDataset(entities: Vocabulary(names), relations: Vocabulary(["succ", "pred", "partner"]),
                     train: train, valid: valid, test: test)
}

@Suite struct ComplExLearningTests {
    static func options() -> ComplExTrainingOptions {
        var o = ComplExTrainingOptions()
        o.rank = 16
        o.batchSize = 32
        o.learningRate = 0.1
        o.n3Weight = 1e-3
        o.initScale = 1e-1
        o.maxEpochs = 150
        o.validEvery = 10
        o.patience = 0
        o.seed = 3
        o.progress = false
        return o
    }

    @Test func learnsInferableHeldOutFacts() throws {
        let kg = syntheticGraph(entities: 32, heldOut: 10, seed: 5)
        #expect(kg.test.count == 10 && kg.valid.count == 10 && kg.train.count == 76)
        let known = KnownAnswers(kg.allTriples, relationCount: 3)
        let before = evaluateLinkPrediction(
            ComplExModel(entityCount: 32, relationCount: 3, rank: 16, initScale: 0.1, seed: 3),
            triples: kg.test, known: known).both.summary(.realistic)
        let (model, report) = try ComplExTrainer.train(kg, options: Self.options(), known: known)
        let after = evaluateLinkPrediction(model, triples: kg.test, known: known).both.summary(.realistic)
        // Random ranking among ~31 candidates has expected MRR ≈ H_31/31 ≈ 0.13.
        #expect(before.mrr < 0.3, "untrained \(before)")
        #expect(after.mrr > 0.8, "trained \(after)")
        #expect(report.epochLosses.last!.total < report.epochLosses.first!.total / 3)
    }

    @Test func sameSeedSameRun() throws {
        let kg = syntheticGraph(entities: 16, heldOut: 4, seed: 1)
        var o = Self.options()
        o.maxEpochs = 5
        let (a, ra) = try ComplExTrainer.train(kg, options: o)
        let (b, rb) = try ComplExTrainer.train(kg, options: o)
        #expect(ra.epochLosses == rb.epochLosses)
        #expect(a.entity == b.entity && a.relation == b.relation)
        o.seed = 4
        let (c, _) = try ComplExTrainer.train(kg, options: o)
        #expect(c.entity != a.entity)
    }

    @Test func badOptionsAreErrors() {
        let kg = syntheticGraph(entities: 8, heldOut: 2, seed: 1)
        var o = Self.options()
        o.batchSize = 0
        #expect(throws: GraphDataError.self) { _ = try ComplExTrainer.train(kg, options: o) }
    }
}
