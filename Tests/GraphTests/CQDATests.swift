import Core
import Testing
@testable import Graph
import TestSupport

@Suite struct CQDAAdapterTests {
    @Test func parameterCountMatchesFormula() throws {
        // 2·(2k)·|inputs| + 2·|inputs| (methods.md §10): k = 1000 → 8,004 for "sp", 12,006 for "spo".
        #expect(try CQDAAdapter(rank: 1000, inputs: "sp").parameterCounts().total == 8_004)
        #expect(try CQDAAdapter(rank: 1000, inputs: "spo").parameterCounts().total == 12_006)
        #expect(try CQDAAdapter(rank: 3, inputs: "").parameterCounts().total == 4)  // Linear(1 → 2)
        #expect(try CQDAAdapter(rank: 3, inputs: "spo").namedParameters().map(\.0)
                == ["s.weight", "s.bias", "p.weight", "p.bias", "o.weight", "o.bias"])
        #expect(throws: GraphDataError.self) { _ = try CQDAAdapter(rank: 3, inputs: "sx") }
    }

    @Test(arguments: ["sp", "spo", ""])
    func zeroInitIsPlainCQDAndAffineIsExact(inputs: String) throws {
        let m = CQDBeamTests.model
        let q: Query = .and([.project(.project(.entity(1), 1), 2), .not(.project(.entity(4), 0))])
        let plain = try CQDBeam(model: m, options: CQDOptions(beamWidth: 3)).truth(q)
        let a0 = try CQDAAdapter(rank: 3, inputs: inputs, initScale: 0)
        let adapted = try CQDBeam(model: m, options: CQDOptions(beamWidth: 3), adapter: a0).truth(q)
        #expect(adapted.storage == plain.storage)

        // Hand check of φ' = φ(1 + α) + β for the "s","p" inputs on one atom (anchor 2, relation 1).
        let a = try CQDAAdapter(rank: 3, inputs: inputs, initScale: 0.5, seed: 3)
        let raw = Tensor(m.scoreAll(anchors: [2], relations: [1]), shape: [1, 7])
        let got = a.adapt(raw, anchors: [2], relation: 1, model: m).storage
        for y in 0..<7 {
            var alpha: Float = 0, beta: Float = 0
            func lin(_ key: String, _ x: [Float]) {
                let W = a.weights[key]!.storage, b = a.biases[key]!.storage, n = x.count
                alpha += zip(W[0..<n], x).map { $0 * $1 }.reduce(0, +) + b[0]
                beta += zip(W[n..<(2 * n)], x).map { $0 * $1 }.reduce(0, +) + b[1]
            }
            if inputs.contains("s") { lin("s", Array(m.entity[12..<18])) }
            if inputs.contains("p") { lin("p", Array(m.relation[6..<12])) }
            if inputs.contains("o") { lin("o", Array(m.entity[(y * 6)..<(y * 6 + 6)])) }
            if inputs.isEmpty { lin("phi", [raw.storage[y]]) }
            let want = raw.storage[y] * (1 + alpha) + beta
            #expect(abs(got[y] - want) < 1e-5 * max(1, abs(want)), "y=\(y)")
        }
    }

    @Test func gradientThroughQueryPassesFiniteDifferences() throws {
        let m = CQDBeamTests.model
        let a = try CQDAAdapter(rank: 3, inputs: "spo", initScale: 0.3, seed: 5)
        // Beam = N so no selection can flip under the probe; ip mixes ∧, a hop and the max.
        let cqd = CQDBeam(model: m, options: CQDOptions(beamWidth: 7), adapter: a)
        let q: Query = .project(.and([.project(.entity(0), 0), .not(.project(.entity(3), 1))]), 2)
        let params = a.trainableParameters().map(\.1)
        let check = gradCheck(params, eps: 1e-3) { _ in try! cqd.truth(q).crossEntropy(targets: [4]) }
        #expect(check.passed, "\(check)")
    }

    @Test func trainingLowersTheQueryLoss() throws {
        let kg = syntheticGraph(entities: 24, heldOut: 4, seed: 2)
        var o = ComplExLearningTests.options()
        o.maxEpochs = 60
        let (model, _) = try ComplExTrainer.train(kg, options: o)
        let gen = QueryGenerator(full: kg.train, easy: nil, entityCount: 24, relationCount: 3)
        var train: [ComplexQueryExample] = []
        for s in ["1p", "2p", "2i", "2in"] { train += try gen.sample(s, count: 8, seed: 7) }
        let a = try CQDAAdapter(rank: 16, inputs: "sp", seed: 1)
        let cqd = CQDBeam(model: model, options: CQDOptions(beamWidth: 4), adapter: a)
        var to = CQDATrainingOptions()
        to.epochs = 8
        to.batchSize = 8
        to.useLogits = true
        to.progress = false
        let losses = try CQDATrainer.train(a, cqd: cqd, queries: train, options: to)
        #expect(losses.count == 8 && losses.last! < losses.first!, "\(losses)")
    }
}

@Suite struct CQDAQueryLossTests {
    @Test(arguments: [false, true])
    func queryLossGradientPassesFiniteDifferences(useLogits: Bool) {
        var o = CQDATrainingOptions()
        o.useLogits = useLogits
        o.epsilon = 0.05  // a moderate ε keeps log(ε + ·) smooth enough for central differences
        // Scores in (0, 1), distinct so the row minimum does not switch under the probe.
        let s = Tensor([0.9, 0.2, 0.55, 0.7, 0.35, 0.1, 0.8, 0.45, 0.6, 0.3], shape: [2, 5], requiresGrad: true)
        let check = gradCheck([s], eps: 1e-3) { CQDATrainer.queryLoss($0[0], targets: [2, 4], options: o) }
        #expect(check.passed, "\(check)")
    }
}
