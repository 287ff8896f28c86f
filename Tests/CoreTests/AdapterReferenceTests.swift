import Testing
import Core
import TestSupport

/// Hand-sized cases against numbers computed independently (NumPy in float64, peft's
/// formulas written out; the script is quoted in each comment).
@Suite("Adapter reference values")
struct AdapterReferenceTests {
    // Shared tiny problem: W [3,4], b [3], A [2,4], B [3,2], x [2,4], r = 2, alpha = 4 → s = 2.
    static let w: [Float] = [0.5, -1.0, 0.25, 2.0, 1.5, 0.0, -0.5, 1.0, -2.0, 0.75, 1.0, 0.5]
    static let b: [Float] = [0.1, -0.2, 0.3]
    static let a: [Float] = [0.2, -0.1, 0.4, 0.3, -0.3, 0.5, 0.1, -0.2]
    static let bb: [Float] = [0.6, -0.4, 0.1, 0.2, -0.5, 0.3]
    static let x: [Float] = [1.0, 2.0, -1.0, 0.5, -0.5, 0.25, 1.5, -2.0]

    func layer() -> Linear { Linear(weight: Tensor(Self.w, shape: [3, 4]), bias: Tensor(Self.b, shape: [3])) }
    func input() -> Tensor { Tensor(Self.x, shape: [2, 4]) }

    @Test("LoRA forward = xWᵀ + b + s·(xAᵀ)Bᵀ")
    func loraForward() {
        // numpy: x@W.T + b + 2*(x@A.T)@B.T
        let expected = Tensor([-1.35, 2.45, -0.4, -4.835, -3.395, 2.6075], shape: [2, 3])
        let l = layer()
        l.attach(LoRA(a: Tensor(Self.a, shape: [2, 4]), b: Tensor(Self.bb, shape: [3, 2]), scaling: LoRAScaling.standard.scale(alpha: 4, rank: 2)))
        let y = withoutGrad { l(input()) }
        #expect(allClose(y, expected, atol: 1e-6, rtol: 1e-6), "\(differenceReport(y, expected))")
    }

    @Test("scaling rules: alpha/r, alpha/√r, alpha/RR with rank round(in/RR)")
    func scalingRules() {
        #expect(LoRAScaling.standard.scale(alpha: 16, rank: 8) == 2)  // peft: 16/8
        #expect(LoRAScaling.rankStabilized.scale(alpha: 8, rank: 16) == 2)  // 8/√16
        // PETL-AST: d 768, RR 64 → r 12, alpha 8 → 0.125 (methods.md §5).
        #expect(LoRAScaling.reductionFactor(64).rank(configured: 0, inFeatures: 768) == 12)
        #expect(LoRAScaling.reductionFactor(64).scale(alpha: 8, rank: 12) == 0.125)
        // Omni-AVSR LLM: d 2048, RR 32 → 64, alpha 4 → 0.125.
        #expect(LoRAScaling.reductionFactor(32).rank(configured: 0, inFeatures: 2048) == 64)
        #expect(LoRAScaling.reductionFactor(32).scale(alpha: 4, rank: 64) == 0.125)
    }

    @Test("LoRA init: A Kaiming-uniform bound 1/√in, B zero; gaussian A std 1/r; reversed")
    func loraInit() throws {
        let l = try LoRA(inFeatures: 400, outFeatures: 30, rank: 50, scaling: 1, seed: 4)
        let bound = 1 / Float(400).squareRoot()  // kaiming_uniform(a=√5): gain √(2/6)·√(3/fan_in) = 1/√fan_in
        #expect(l.loraA.storage.allSatisfy { Swift.abs($0) <= bound })
        #expect(l.loraA.storage.map { Swift.abs($0) }.max()! > 0.95 * bound)
        #expect(l.loraB.storage.allSatisfy { $0 == 0 })
        let g = try LoRA(inFeatures: 400, outFeatures: 30, rank: 50, scaling: 1, initialization: .gaussianA, seed: 4)
        let mean = g.loraA.storage.reduce(0, +) / Float(g.loraA.count)
        let std = (g.loraA.storage.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(g.loraA.count)).squareRoot()
        #expect(Swift.abs(std - 1 / 50) < 0.001)  // 20,000 draws: sampling error of std ≈ 0.5%
        let rev = try LoRA(inFeatures: 4, outFeatures: 30, rank: 2, scaling: 1, initialization: .kaimingB, seed: 4)
        #expect(rev.loraA.storage.allSatisfy { $0 == 0 } && rev.loraB.storage.contains { $0 != 0 })
        #expect(throws: AdapterError.self) { try LoRA(inFeatures: 4, outFeatures: 4, rank: 0, scaling: 1, seed: 1) }
    }

    @Test("DoRA forward and merge equal peft's formula")
    func doraForward() {
        // numpy: norm = ‖W + 2·B@A‖ over axis 1; scale = m / norm
        //        y = x@W.T + b + (scale − 1)·(x@W.T) + scale·(2·(x@A.T)@B.T)
        let expected = Tensor([-0.8150633, 2.0383801, -0.4704723, -3.0143707, -2.8987262, 2.839807], shape: [2, 3])
        let mergedW: [Float] = [
            0.61845654, -0.95923877, 0.41020077, 1.5903169, 1.1994338, 0.15204091, -0.32097524, 0.82777828,
            -2.6196058, 1.2657759, 0.72644532, 0.08805398,
        ]
        let l = layer()
        let dora = DoRA(a: Tensor(Self.a, shape: [2, 4]), b: Tensor(Self.bb, shape: [3, 2]), magnitude: Tensor([2, 1.5, 3]), scaling: 2)
        l.attach(dora)
        let y = withoutGrad { l(input()) }
        #expect(allClose(y, expected, atol: 2e-6, rtol: 1e-6), "\(differenceReport(y, expected))")
        l.merge()
        #expect(allClose(l.weight, Tensor(mergedW, shape: [3, 4]), atol: 1e-6, rtol: 1e-6))
        #expect(allClose(withoutGrad { l(input()) }, expected, atol: 2e-6, rtol: 1e-6))
        l.unmerge()
        #expect(maxAbsDifference(l.weight, Tensor(Self.w, shape: [3, 4]))! <= 1e-6)
    }

    @Test("DoRA magnitude starts at the row norms of W")
    func doraMagnitudeInit() throws {
        // Rows (3,4,0), (1,2,2), (0,0,7) have norms 5, 3, 7 (Pythagorean triples).
        let l = Linear(weight: Tensor([3, 4, 0, 1, 2, 2, 0, 0, 7], shape: [3, 3]), bias: nil)
        let d = try DoRA(layer: l, rank: 2, scaling: 1, seed: 3)
        #expect(d.magnitude.storage == [5, 3, 7])
        #expect(d.stateEntries().map(\.0) == ["lora_A.weight", "lora_B.weight", "lora_magnitude_vector"])
    }

    @Test("DoRA gradients equal those of the formula with the norm held constant")
    func doraGradients() {
        let l = layer()
        let a = Tensor(Self.a, shape: [2, 4]), b = Tensor(Self.bb, shape: [3, 2]), m = Tensor([2, 1.5, 3])
        l.attach(DoRA(a: a, b: b, magnitude: m, scaling: 2))
        let x = input()
        (l(x) * Tensor([1, -2, 0.5, 3, 1, -1], shape: [2, 3])).sum().backward()
        // Reference: the same expression built from plain ops, with the norm as a constant.
        let a2 = Tensor(Self.a, shape: [2, 4], requiresGrad: true), b2 = Tensor(Self.bb, shape: [3, 2], requiresGrad: true)
        let m2 = Tensor([2, 1.5, 3], requiresGrad: true)
        let norm = Tensor([3.1691797045923416, 1.7758378304338491, 2.725600851188596])  // numpy, above
        let f: ([Tensor]) -> Tensor = { _ in
            let scale = m2 / norm
            return Tensor(Self.b, shape: [3]) + scale * (x.matmul(Tensor(Self.w, shape: [3, 4]).transposed()) + x.matmul(a2.transposed()).matmul(b2.transposed()) * 2)
        }
        let check = gradCheck([a2, b2, m2]) { f($0) }
        #expect(check.passed, "\(check)")  // the reference itself is right
        for t in [a2, b2, m2] { t.zeroGrad() }
        (f([]) * Tensor([1, -2, 0.5, 3, 1, -1], shape: [2, 3])).sum().backward()
        for (got, want) in [(a, a2), (b, b2), (m, m2)] {
            #expect(allClose(got.grad!, want.grad!, atol: 1e-5, rtol: 1e-5), "\(differenceReport(got.grad!, want.grad!))")
        }
    }

    @Test("IA3 scales outputs (rows and bias) or feed-forward inputs (columns)")
    func ia3() {
        let l = layer()
        let ia = IA3(layer: l, feedforward: false)
        ia.scale.storage = [2, 0.5, -1]
        l.attach(ia)
        let base = withoutGrad { input().linear(weight: Tensor(Self.w, shape: [3, 4]), bias: Tensor(Self.b, shape: [3])) }
        let y = withoutGrad { l(input()) }
        #expect(allClose(y, base * Tensor([2, 0.5, -1]), atol: 1e-6))
        l.merge()
        #expect(l.bias!.storage == [0.2, -0.1, -0.3])  // b ⊙ l
        let l2 = layer()
        let ff = IA3(layer: l2, feedforward: true)
        ff.scale.storage = [1, 2, 3, 4]
        l2.attach(ff)
        let scaledX = Tensor(zip(Self.x, [1, 2, 3, 4, 1, 2, 3, 4] as [Float]).map { $0 * $1 }, shape: [2, 4])
        #expect(allClose(withoutGrad { l2(input()) }, withoutGrad { scaledX.linear(weight: Tensor(Self.w, shape: [3, 4]), bias: Tensor(Self.b, shape: [3])) }, atol: 1e-6))
        #expect(ff.scale.shape == [1, 4] && ia.scale.shape == [3, 1])  // peft's ia3_l shapes
    }

    @Test("LoRA dropout: seeded, only in training, on the input or the output")
    func dropout() throws {
        func run(_ site: LoRADropoutSite, training: Bool, seed: UInt64) -> Tensor {
            let l = layer()
            let lora = LoRA(a: Tensor(Self.a, shape: [2, 4]), b: Tensor(Self.bb, shape: [3, 2]), scaling: 2, dropout: 0.5, dropoutSite: site, seed: seed)
            l.attach(lora)
            l.train(training)
            return withoutGrad { l(input()) }
        }
        let evalOut = run(.input, training: false, seed: 1)
        #expect(allClose(evalOut, Tensor([-1.35, 2.45, -0.4, -4.835, -3.395, 2.6075], shape: [2, 3]), atol: 1e-6))
        #expect(run(.input, training: true, seed: 1).storage == run(.input, training: true, seed: 1).storage)
        #expect(run(.input, training: true, seed: 1).storage != evalOut.storage)
        #expect(run(.output, training: true, seed: 1).storage != run(.input, training: true, seed: 1).storage)
    }

    @Test("expert LoRA mixes per sample: w·ΔA + (1−w)·ΔB")
    func expertMix() throws {
        let l = layer()
        let e1 = LoRA(a: Tensor(Self.a, shape: [2, 4]), b: Tensor(Self.bb, shape: [3, 2]), scaling: 2)
        let e2 = LoRA(a: Tensor(Self.a.map { -$0 }, shape: [2, 4]), b: Tensor(Self.bb, shape: [3, 2]), scaling: 1)
        let mix = ExpertLoRA(experts: [e1, e2])
        mix.mixWeights = Tensor([0.25, 0.75, 1, 0], shape: [2, 2])
        l.attach(mix)
        let x = input()
        let y = withoutGrad { l(x) }
        let base = withoutGrad { x.linear(weight: l.weight, bias: l.bias) }
        let d1 = withoutGrad { e1.lowRankDelta(x) }, d2 = withoutGrad { e2.lowRankDelta(x) }
        for r in 0..<2 {
            let (w1, w2): (Float, Float) = r == 0 ? (0.25, 0.75) : (1, 0)
            for j in 0..<3 {
                let want = base.storage[r * 3 + j] + w1 * d1.storage[r * 3 + j] + w2 * d2.storage[r * 3 + j]
                #expect(Swift.abs(y.storage[r * 3 + j] - want) <= 1e-6)
            }
        }
    }
}
