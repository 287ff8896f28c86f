import Foundation
import Testing
import Core
import TestSupport

/// Test hooks: a gated sequence adapter, a fixed prefix, and fixed prompts.
final class GateAdapter: Module, SequenceAdapter {
    let gate: Tensor
    init(dim: Int, seed: UInt64) { gate = randomTensor([dim], seed: seed); super.init() }
    override func namedLocalParameters() -> [(String, Tensor)] { [("gate", gate)] }
    // Series plus parallel term, so both arguments matter: output·gate + 0.5·input.
    func forward(input: Tensor, output: Tensor) -> Tensor { output * gate + input * 0.5 }
}

final class FixedPrefix: Module, AttentionPrefix {
    let keys: Tensor, values: Tensor
    init(length: Int, dim: Int, seed: UInt64) {
        keys = randomTensor([1, length, dim], seed: seed)
        values = randomTensor([1, length, dim], seed: seed + 1)
        super.init()
    }
    override func namedLocalParameters() -> [(String, Tensor)] { [("keys", keys), ("values", values)] }
    func keysValues(batch: Int) -> (keys: Tensor, values: Tensor) {
        (keys.expand(to: [batch] + Array(keys.shape.dropFirst())), values.expand(to: [batch] + Array(values.shape.dropFirst())))
    }
}

final class FixedPrompts: Module, PromptProvider {
    let tokens: [Tensor]  // one per layer that gets prompts
    let deep: Bool
    init(length: Int, dim: Int, layers: Int, deep: Bool) {
        tokens = (0..<layers).map { randomTensor([1, length, dim], seed: 40 + UInt64($0)) }
        self.deep = deep
        super.init()
    }
    var length: Int { tokens[0].shape[1] }
    func prompts(layer: Int, batch: Int) -> Tensor? {
        guard layer == 0 || deep else { return nil }
        return tokens[layer].expand(to: [batch, length, tokens[layer].shape[2]])
    }
}

/// Plain-loop attention in Double: the independent reference for `MultiHeadAttention`.
/// `x [B,T,C]`, context `[B,S,C]`; padding `[B][S]` of 0/1; prefix keys/values `[P][C]` shared by the batch.
func referenceAttention(_ mha: MultiHeadAttention, x: Tensor, context: Tensor? = nil, padding: [[Int]]? = nil,
                        causal: Bool = false, prefix: (k: Tensor, v: Tensor)? = nil) -> [Float] {
    let b = x.shape[0], t = x.shape[1], c = x.shape[2]
    let src = context ?? x
    let s = src.shape[1]
    func project(_ l: Linear, _ input: Tensor, rows: Int) -> [[[Double]]] {
        (0..<b).map { bi in (0..<rows).map { r in (0..<l.outFeatures).map { o in
            var acc = Double(l.bias?.storage[o] ?? 0)
            for i in 0..<l.inFeatures { acc += Double(input.storage[(bi * rows + r) * l.inFeatures + i]) * Double(l.weight.storage[o * l.inFeatures + i]) }
            return acc } } }
    }
    let q = project(mha.query, x, rows: t)
    var k = project(mha.key, src, rows: s), v = project(mha.value, src, rows: s)
    let p = prefix?.k.shape[1] ?? 0
    if let pre = prefix {
        for bi in 0..<b {
            k[bi] = (0..<p).map { r in (0..<c).map { Double(pre.k.storage[r * c + $0]) } } + k[bi]
            v[bi] = (0..<p).map { r in (0..<c).map { Double(pre.v.storage[r * c + $0]) } } + v[bi]
        }
    }
    let h = mha.numHeads, d = c / h
    var ctx = [Double](repeating: 0, count: b * t * c)
    for bi in 0..<b { for head in 0..<h { for i in 0..<t {
        var scores = [Double](repeating: 0, count: p + s)
        for j in 0..<(p + s) {
            var dot = 0.0
            for e in 0..<d { dot += q[bi][i][head * d + e] * k[bi][j][head * d + e] }
            scores[j] = dot / Double(d).squareRoot()
            if j >= p {
                if let pad = padding, pad[bi][j - p] == 0 { scores[j] = -.infinity }
                if causal && j - p > i { scores[j] = -.infinity }
            }
        }
        let m = scores.max()!
        let e = scores.map { Foundation.exp($0 - m) }
        let z = e.reduce(0, +)
        for j in 0..<(p + s) { for dd in 0..<d { ctx[(bi * t + i) * c + head * d + dd] += e[j] / z * v[bi][j][head * d + dd] } }
    } } }
    let o = mha.output
    var out = [Float](repeating: 0, count: b * t * c)
    for r in 0..<(b * t) { for oc in 0..<c {
        var acc = Double(o.bias?.storage[oc] ?? 0)
        for i in 0..<c { acc += ctx[r * c + i] * Double(o.weight.storage[oc * c + i]) }
        out[r * c + oc] = Float(acc)
    } }
    return out
}

@Suite struct LayerTests {
    // MARK: Embedding, LayerNorm, Dropout, activations

    @Test func embeddingLookupAndScatterAddGradient() throws {
        let emb = try Embedding(count: 5, dim: 3, at: WeightStore.random(seed: 1).root.pp("emb"))
        let y = try emb([4, 1, 4], shape: [1, 3])
        #expect(y.shape == [1, 3, 3])
        #expect(Array(y.storage[0..<3]) == Array(emb.weight.storage[12..<15]))
        #expect(Array(y.storage[3..<6]) == Array(emb.weight.storage[3..<6]))
        // d(sum y)/dW: row 4 used twice → 2, row 1 once → 1, others 0.
        y.sum().backward()
        let g = try #require(emb.weight.gradStorage)
        #expect(g == [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 2, 2, 2])
        let r = gradCheck([emb.weight]) { _ in try! emb([0, 2, 2, 3], shape: [2, 2]) }
        #expect(r.passed, "\(r)")
        #expect(throws: EmbeddingError.indexOutOfRange(key: "emb.weight", index: 5, position: 1, size: 5)) { try emb([0, 5]) }
        #expect(throws: EmbeddingError.self) { try emb([0, 1, 2], shape: [2, 2]) }
    }

    @Test func layerNormModuleMatchesHandMath() throws {
        let ln = try LayerNorm(dim: 4, eps: 1e-5, at: WeightStore.random(seed: 2).root.pp("ln"))
        ln.weight!.storage = [1, 2, 0.5, -1]
        ln.bias!.storage = [0, 1, 0, 0.25]
        // x = [1, 2, 3, 6]: mean 3, biased variance (4+1+0+9)/4 = 3.5.
        let y = ln(Tensor([1, 2, 3, 6], shape: [1, 4]))
        let sd = (3.5 + 1e-5).squareRoot()
        let expected: [Double] = [-2 / sd * 1, -1 / sd * 2 + 1, 0, 3 / sd * -1 + 0.25]
        for i in 0..<4 { #expect(Swift.abs(Double(y.storage[i]) - expected[i]) < 1e-5) }
        let x = randomTensor([2, 3, 4], seed: 3)
        let r = gradCheck([x, ln.weight!, ln.bias!]) { ln($0[0]) }
        #expect(r.passed, "\(r)")
    }

    @Test func dropoutIsSeededInvertedAndOffInEval() {
        let x = Tensor.ones([4000], requiresGrad: true)
        let d = Dropout(p: 0.25, seed: 9)
        let y = d(x)
        let kept = y.storage.filter { $0 != 0 }
        #expect(kept.allSatisfy { $0 == 1 / Float(0.75) })
        let frac = Double(kept.count) / 4000
        #expect(Swift.abs(frac - 0.75) < 0.03, "kept fraction \(frac)")
        y.sum().backward()
        #expect(x.gradStorage! == y.storage)  // gradient passes exactly where kept, with the same scale
        #expect(Dropout(p: 0.25, seed: 9)(x).storage == y.storage)
        #expect(Dropout(p: 0.25, seed: 10)(x).storage != y.storage)
        #expect(d(x).storage != y.storage)  // the stream advances
        d.eval()
        #expect(d(x) === x)
    }

    @Test func activationsMatchTheirFormulas() {
        let xs: [Float] = [-3, -1, -0.2, 0, 0.5, 2]
        let x = Tensor(xs)
        for (i, v) in xs.enumerated() {
            let dv = Double(v)
            let quick = dv / (1 + Foundation.exp(-1.702 * dv))
            #expect(Swift.abs(Double(Activation.quickGELU(x).storage[i]) - quick) < 1e-6)
            let gelu = 0.5 * dv * (1 + Foundation.erf(dv / 2.0.squareRoot()))
            #expect(Swift.abs(Double(Activation.gelu(x).storage[i]) - gelu) < 1e-6)
            let tanhGelu = 0.5 * dv * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (dv + 0.044715 * dv * dv * dv)))
            #expect(Swift.abs(Double(Activation.geluTanh(x).storage[i]) - tanhGelu) < 1e-6)
            #expect(Swift.abs(Double(Activation.silu(x).storage[i]) - dv / (1 + Foundation.exp(-dv))) < 1e-6)
            #expect(Activation.relu(x).storage[i] == Swift.max(v, 0))
        }
        #expect(Activation(huggingFace: "quick_gelu") == .quickGELU)
        #expect(Activation(huggingFace: "gelu_new") == .geluTanh)
        #expect(Activation(huggingFace: "nope") == nil)
        let r = gradCheck([randomTensor([6], seed: 4)]) { Activation.quickGELU($0[0]) }
        #expect(r.passed, "\(r)")
    }

    @Test func feedForwardMatchesComposition() throws {
        let mlp = try FeedForward(dim: 4, hidden: 6, activation: .quickGELU, at: WeightStore.random(seed: 5).root.pp("mlp"))
        let x = randomTensor([2, 3, 4], seed: 6)
        let h = x.matmul(mlp.fc1.weight.transposed()) + mlp.fc1.bias!
        let expected = (h * (h * 1.702).sigmoid()).matmul(mlp.fc2.weight.transposed()) + mlp.fc2.bias!
        #expect(allClose(mlp(x), expected, atol: 1e-6), "\(differenceReport(mlp(x), expected))")
        #expect(mlp.namedParameters().map(\.0) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"])
        let params = mlp.parameters()
        let r = gradCheck([x] + params) { mlp($0[0]) }
        #expect(r.passed, "\(r)")
    }

    // MARK: Attention

    func makeAttention(bias: AttentionBias = .all, seed: UInt64 = 11) throws -> MultiHeadAttention {
        try MultiHeadAttention(dim: 4, numHeads: 2, bias: bias, at: WeightStore.random(seed: seed).root.pp("attn"))
    }

    @Test func attentionMatchesLoopReference() throws {
        let mha = try makeAttention()
        let x = randomTensor([2, 3, 4], seed: 12)
        #expect(allClose(mha(x), Tensor(referenceAttention(mha, x: x), shape: [2, 3, 4]), atol: 1e-5))
        // Padding: the second sequence's last key is padding.
        let pad = [[1, 1, 1], [1, 1, 0]]
        let mask = Tensor(pad.flatMap { $0.map(Float.init) }, shape: [2, 3])
        let masked = mha(x, attentionMask: mask)
        #expect(allClose(masked, Tensor(referenceAttention(mha, x: x, padding: pad), shape: [2, 3, 4]), atol: 1e-5))
        // Causal, and causal together with padding.
        #expect(allClose(mha(x, causal: true), Tensor(referenceAttention(mha, x: x, causal: true), shape: [2, 3, 4]), atol: 1e-5))
        #expect(allClose(mha(x, attentionMask: mask, causal: true),
                         Tensor(referenceAttention(mha, x: x, padding: pad, causal: true), shape: [2, 3, 4]), atol: 1e-5))
        // Cross-attention over a 5-token context.
        let ctx = randomTensor([2, 5, 4], seed: 13)
        #expect(allClose(mha(x, context: ctx), Tensor(referenceAttention(mha, x: x, context: ctx), shape: [2, 3, 4]), atol: 1e-5))
    }

    @Test func attentionPrefixExtendsKeysAndMask() throws {
        let mha = try makeAttention()
        let prefix = FixedPrefix(length: 2, dim: 4, seed: 14)
        mha.prefix = prefix
        let x = randomTensor([2, 3, 4], seed: 15)
        let pad = [[1, 0, 1], [1, 1, 1]]
        let mask = Tensor(pad.flatMap { $0.map(Float.init) }, shape: [2, 3])
        let y = mha(x, attentionMask: mask, causal: true)
        let ref = referenceAttention(mha, x: x, padding: pad, causal: true, prefix: (prefix.keys, prefix.values))
        #expect(allClose(y, Tensor(ref, shape: [2, 3, 4]), atol: 1e-5), "\(differenceReport(y, Tensor(ref, shape: [2, 3, 4])))")
        #expect(mha.namedParameters().map(\.0).contains("prefix.keys"))
        // The prefix receives gradients through attention.
        let r = gradCheck([prefix.keys, prefix.values]) { _ in mha(x, attentionMask: mask) }
        #expect(r.passed, "\(r)")
    }

    @Test func attentionGradients() throws {
        let mha = try makeAttention(bias: AttentionBias(key: false))
        #expect(mha.key.bias == nil)
        let x = randomTensor([2, 3, 4], seed: 16)
        let mask = Tensor([1, 1, 0, 1, 1, 1], shape: [2, 3])
        let r = gradCheck([x] + mha.parameters()) { mha($0[0], attentionMask: mask, causal: true) }
        #expect(r.passed, "\(r)")
        let ctx = randomTensor([2, 4, 4], seed: 17)
        let rc = gradCheck([x, ctx]) { mha($0[0], context: $0[1]) }
        #expect(rc.passed, "\(rc)")
    }

    // MARK: Encoder layer

    static let tinyConfig = TransformerLayerConfig(dim: 4, numHeads: 2, ffnDim: 6, activation: .gelu, normEps: 1e-5)

    @Test(arguments: [NormPlacement.postNorm, .preNorm])
    func encoderLayerMatchesComposition(_ placement: NormPlacement) throws {
        var layout = TransformerLayerLayout.bert
        layout.placement = placement
        let layer = try TransformerEncoderLayer(config: Self.tinyConfig, layout: layout, at: WeightStore.random(seed: 18).root)
        layer.eval()
        let x = randomTensor([2, 3, 4], seed: 19)
        let mask = Tensor([1, 1, 1, 1, 0, 1], shape: [2, 3])
        let a = layer.attention, f = layer.feedForward, n1 = layer.attentionNorm, n2 = layer.feedForwardNorm
        let expected: Tensor
        if placement == .postNorm {
            let h = n1(x + a(x, attentionMask: mask))
            expected = n2(h + f(h))
        } else {
            let h = x + a(n1(x), attentionMask: mask)
            expected = h + f(n2(h))
        }
        #expect(allClose(layer(x, attentionMask: mask), expected, atol: 1e-6))
        let r = gradCheck([x] + layer.parameters()) { layer($0[0], attentionMask: mask) }
        #expect(r.passed, "\(r)")
    }

    @Test func layerScaleAndSequenceAdaptersApplyBeforeTheResidual() throws {
        let layer = try TransformerEncoderLayer(config: Self.tinyConfig, layout: .dinov2, at: WeightStore.random(seed: 20).root)
        layer.eval()
        layer.layerScale1!.lambda1.storage = [0.5, -1, 2, 0.25]
        layer.layerScale2!.lambda1.storage = [1.5, 0.1, -0.3, 1]
        let ga = GateAdapter(dim: 4, seed: 21), gf = GateAdapter(dim: 4, seed: 22)
        layer.setAdapter(ga, at: .attention)
        layer.setAdapter(gf, at: .feedForward)
        let x = randomTensor([1, 3, 4], seed: 23)
        let u1 = layer.attentionNorm(x)
        let h = x + (layer.attention(u1) * layer.layerScale1!.lambda1 * ga.gate + u1 * 0.5)
        let u2 = layer.feedForwardNorm(h)
        let expected = h + (layer.feedForward(u2) * layer.layerScale2!.lambda1 * gf.gate + u2 * 0.5)
        #expect(allClose(layer(x), expected, atol: 1e-6), "\(differenceReport(layer(x), expected))")
        let names = layer.namedParameters().map(\.0)
        #expect(names.contains("adapters.attention.gate") && names.contains("adapters.ffn.gate"))
        #expect(names.contains("layer_scale1.lambda1") && names.contains("layer_scale2.lambda1"))
        let r = gradCheck([x, ga.gate, gf.gate, layer.layerScale1!.lambda1]) { layer($0[0]) }
        #expect(r.passed, "\(r)")
        // A fresh layer scale starts at the configured value.
        var cfg = Self.tinyConfig
        cfg.layerScaleInit = 0.5
        let fresh = try TransformerEncoderLayer(config: cfg, layout: .dinov2, at: WeightStore.random(seed: 1).root)
        #expect(fresh.layerScale1!.lambda1.storage == [0.5, 0.5, 0.5, 0.5])
    }

    @Test func dropoutInLayersIsActiveOnlyInTrainingAndReproducible() throws {
        var cfg = Self.tinyConfig
        cfg.hiddenDropout = 0.3
        cfg.attentionDropout = 0.3
        func build() throws -> TransformerEncoderLayer {
            try TransformerEncoderLayer(config: cfg, layout: .vit, seed: 77, at: WeightStore.random(seed: 24).root)
        }
        let a = try build(), b = try build()
        let x = randomTensor([2, 3, 4], seed: 25)
        let ya = a(x), yb = b(x)
        #expect(ya.storage == yb.storage)  // same seeds → identical masks
        #expect(a(x).storage != ya.storage)  // masks advance between calls
        a.eval()
        var plain = cfg
        plain.hiddenDropout = 0
        plain.attentionDropout = 0
        let ref = try TransformerEncoderLayer(config: plain, layout: .vit, at: WeightStore.random(seed: 24).root)
        #expect(allClose(a(x), ref(x), atol: 0))
    }

    // MARK: Encoder stack and prompts

    @Test func encoderPromptsShallowAndDeep() throws {
        let enc = try TransformerEncoder(config: Self.tinyConfig, layout: .vit, numLayers: 2, at: WeightStore.random(seed: 26).root.pp("encoder"))
        enc.eval()
        let x = randomTensor([2, 3, 4], seed: 27)
        let mask = Tensor([1, 1, 1, 1, 1, 0], shape: [2, 3])
        for deep in [false, true] {
            let prompts = FixedPrompts(length: 2, dim: 4, layers: 2, deep: deep)
            enc.promptProvider = prompts
            enc.promptPosition = 1
            let out = enc(x, attentionMask: mask, outputHiddenStates: true)
            // By hand: insert after token 0, extend the mask with ones, (deep) overwrite before layer 1.
            func insert(_ p: Tensor, _ h: Tensor) -> Tensor {
                Tensor.concat([h.slice(axis: 1, 0..<1), p, h.slice(axis: 1, 1..<h.shape[1])], axis: 1)
            }
            let m2 = Tensor([1, 1, 1, 1, 1, 1, 1, 1, 1, 0], shape: [2, 5])
            var h = enc.layers[0](insert(prompts.prompts(layer: 0, batch: 2)!, x), attentionMask: m2)
            if deep {
                h = insert(prompts.prompts(layer: 1, batch: 2)!, Tensor.concat([h.slice(axis: 1, 0..<1), h.slice(axis: 1, 3..<5)], axis: 1))
            }
            h = enc.layers[1](h, attentionMask: m2)
            let stripped = Tensor.concat([h.slice(axis: 1, 0..<1), h.slice(axis: 1, 3..<5)], axis: 1)
            #expect(out.promptLength == 2)
            #expect(allClose(out.lastHiddenState, stripped, atol: 1e-6), "deep \(deep): \(differenceReport(out.lastHiddenState, stripped))")
            #expect(out.hiddenStates.count == 3 && out.hiddenStates[0] === x)
            #expect(allClose(enc(x, attentionMask: mask, keepPrompts: true).lastHiddenState, h, atol: 1e-6))
            let r = gradCheck(prompts.tokens) { _ in enc(x, attentionMask: mask).lastHiddenState }
            #expect(r.passed, "deep \(deep): \(r)")
        }
        #expect(enc.namedParameters().map(\.0).contains("prompts.0") == false)  // FixedPrompts keeps tokens outside its parameter list
        enc.promptProvider = nil
        let plain = enc(x, outputHiddenStates: true)
        #expect(plain.promptLength == 0)
        #expect(allClose(plain.lastHiddenState, enc.layers[1](enc.layers[0](x)), atol: 1e-6))
    }

    // MARK: Module names against real checkpoints

    /// (key, shape) pairs from a checkpoint header whose key starts with `prefix`.
    func checkpointKeys(_ file: String, prefix: String) throws -> [String: [Int]] {
        let header = try FixtureTensors.header(TestPaths.fixture(file))
        return header.filter { $0.key.hasPrefix(prefix) }.mapValues(\.shape)
    }

    func modelKeys(_ enc: TransformerEncoder, prefix: String) -> [String: [Int]] {
        Dictionary(uniqueKeysWithValues: enc.namedParameters(prefix: prefix).map { ($0.0, $0.1.shape) })
    }

    @Test func encoderKeysEqualHuggingFaceCheckpoints() throws {
        struct Case { let file: String; let prefix: String; let layout: TransformerLayerLayout; let dim: Int; let ffn: Int }
        let cases = [
            Case(file: "tiny/bert_tokencls/model.safetensors", prefix: "bert.encoder", layout: .bert, dim: 32, ffn: 64),
            Case(file: "tiny/vit/model.safetensors", prefix: "encoder", layout: .vit, dim: 32, ffn: 64),
            Case(file: "tiny/dinov2/model.safetensors", prefix: "encoder", layout: .dinov2, dim: 32, ffn: 64),
            Case(file: "tiny/clip/model.safetensors", prefix: "vision_model.encoder", layout: .clip, dim: 32, ffn: 64),
            Case(file: "tiny/clip/model.safetensors", prefix: "text_model.encoder", layout: .clip, dim: 32, ffn: 64),
            Case(file: "whisper/tiny_hf/model.safetensors", prefix: "model.encoder", layout: .whisperEncoder, dim: 64, ffn: 128),
        ]
        for c in cases {
            let cfg = TransformerLayerConfig(dim: c.dim, numHeads: 4, ffnDim: c.ffn)
            let enc = try TransformerEncoder(config: cfg, layout: c.layout, numLayers: 2, at: WeightStore.random(seed: 1).root.pp(c.prefix))
            let expected = try checkpointKeys(c.file, prefix: c.prefix + "." + c.layout.stackKey + ".")
            let got = modelKeys(enc, prefix: c.prefix)
            #expect(!expected.isEmpty)
            #expect(got == expected, "\(c.file) \(c.prefix): missing \(Set(expected.keys).subtracting(got.keys).sorted()), extra \(Set(got.keys).subtracting(expected.keys).sorted())")
            // PEFT targets match by module path; the linears must be reachable there.
            let q = c.layout.stackKey + ".1." + c.layout.attention.query
            #expect(enc.module(at: q) is Linear, "\(q)")
        }
    }
}
