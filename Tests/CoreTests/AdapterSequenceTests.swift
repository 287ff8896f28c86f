import Foundation
import Testing
import Core
import TestSupport

/// Bottleneck adapters, feature modulation, prompts and prefixes on their own (the layers
/// that call them are tested with the NN layers).
@Suite("Sequence adapters, prompts and prefixes")
struct AdapterSequenceTests {
    let input = randomTensor([2, 3, 8], seed: 1, requiresGrad: false)
    let output = randomTensor([2, 3, 8], seed: 2, requiresGrad: false)

    @Test("bottleneck: zero up-projection leaves every placement unchanged at init")
    func bottleneckIdentity() throws {
        for placement in [BottleneckPlacement.series, .parallel] {
            let a = try BottleneckAdapter(width: 8, bottleneck: 2, placement: placement, residual: placement == .series, seed: 3)
            #expect(withoutGrad { a.forward(input: input, output: output) }.storage == output.storage)
        }
        let pre = try BottleneckAdapter(width: 8, reductionFactor: 4, seed: 3)
        #expect(pre.down.outFeatures == 2 && withoutGrad { pre(input) }.storage == input.storage)
        #expect(try BottleneckAdapter(width: 768, reductionFactor: 16, seed: 1).down.outFeatures == 48)
        #expect(throws: AdapterError.self) { try BottleneckAdapter(width: 8, bottleneck: 0, seed: 1) }
    }

    @Test("bottleneck formulas: series out + s·f(out); parallel out + s·f(in) [+ in]; no-residual replaces")
    func bottleneckFormulas() throws {
        for (placement, residual) in [(BottleneckPlacement.series, true), (.series, false), (.parallel, true), (.parallel, false)] {
            let a = try BottleneckAdapter(width: 8, bottleneck: 3, placement: placement, residual: residual, activation: .gelu, scale: 0.5, initialization: .pytorchDefault, seed: 4)
            func f(_ x: Tensor) -> Tensor {  // written out from the definition
                x.linear(weight: a.down.weight, bias: a.down.bias).gelu().linear(weight: a.up.weight, bias: a.up.bias) * 0.5
            }
            let want: Tensor
            switch (placement, residual) {
            case (.series, true): want = output + f(output)
            case (.series, false): want = f(output)
            case (.parallel, true): want = output + f(input) + input
            case (.parallel, false): want = output + f(input)
            }
            let got = withoutGrad { a.forward(input: input, output: output) }
            #expect(allClose(got, withoutGrad { want }, atol: 1e-6), "\(placement) residual \(residual)")
        }
    }

    @Test("bottleneck: AdapterHub keys, gradients of all parameters including a learned scale")
    func bottleneckGradients() throws {
        let a = try BottleneckAdapter(width: 8, bottleneck: 3, placement: .parallel, learnScale: true, initialization: .bert, seed: 5)
        #expect(a.namedParameters().map(\.0) == ["scaling", "adapter_down.0.weight", "adapter_down.0.bias", "adapter_up.weight", "adapter_up.bias"])
        perturbTrainable(a, seed: 6)
        let x = randomTensor([2, 3, 8], seed: 7)
        let check = gradCheck(a.parameters() + [x]) { _ in a.forward(input: x, output: output) }
        #expect(check.passed, "\(check)")
    }

    @Test("feature modulation: per-sample conditions, identity at init, merge after a Linear")
    func featureModulation() throws {
        let film = FeatureModulation(width: 8, conditions: 3)
        film.conditions = [2, 0]
        #expect(withoutGrad { film.forward(input: input, output: output) }.storage == output.storage)
        perturbTrainable(film, seed: 8)
        let y = withoutGrad { film.forward(input: input, output: output) }
        for (b, c) in [(0, 2), (1, 0)] {
            for t in 0..<3 {
                for ch in 0..<8 {
                    let i = (b * 3 + t) * 8 + ch
                    let want = output.storage[i] * film.scale.storage[c * 8 + ch] + film.shift.storage[c * 8 + ch]
                    #expect(Swift.abs(y.storage[i] - want) <= 1e-6)
                }
            }
        }
        let check = gradCheck(film.parameters()) { _ in film.forward(input: input, output: output) }
        #expect(check.passed, "\(check)")
        // After a Linear with one condition: mergeable.
        var rng = SplitMix64(seed: 9)
        let l = Linear(inFeatures: 8, outFeatures: 8, using: &rng)
        let ssf = FeatureModulation(width: 8, initialization: .ssf(std: 0.3), seed: 10)
        l.attach(ssf)
        let before = withoutGrad { l(input) }
        l.merge()
        #expect(allClose(withoutGrad { l(input) }, before, atol: 1e-5))
        l.unmerge()
        #expect(allClose(withoutGrad { l(input) }, before, atol: 1e-5))
    }

    @Test("prompts: shallow only before layer 0, deep per layer; gradients reach the right set")
    func prompts() {
        let shallow = PromptTuning(length: 4, width: 8, seed: 1)
        #expect(shallow.prompts(layer: 0, batch: 2)?.shape == [2, 4, 8])
        #expect(shallow.prompts(layer: 1, batch: 2) == nil)
        #expect(shallow.namedParameters().map(\.0) == ["prompt_embeddings"])
        let deep = PromptTuning(length: 4, width: 8, layers: 3, initialization: .vpt(width: 768), seed: 2)
        // VPT bound: √(6 / (3·16·16 + 768)) = √(6/1536) = 0.0625.
        #expect(deep.embeddings.storage.allSatisfy { Swift.abs($0) <= 0.0625 })
        let p1 = deep.prompts(layer: 1, batch: 2)!
        #expect(p1.storage == Array(deep.embeddings.storage[32..<64]) + Array(deep.embeddings.storage[32..<64]))
        p1.sum().backward()
        let g = deep.embeddings.gradStorage!
        #expect(g[0..<32].allSatisfy { $0 == 0 } && g[32..<64].allSatisfy { $0 == 2 } && g[64..<96].allSatisfy { $0 == 0 })
        let fromText = PromptTuning(copyingRows: [2, 0], of: Tensor((0..<12).map(Float.init), shape: [3, 4]))
        #expect(fromText.embeddings.storage == [8, 9, 10, 11, 0, 1, 2, 3] && fromText.embeddings.requiresGrad)
    }

    @Test("prefixes: peft's [P, L·2·C] layout, reparameterisation MLP, flattening")
    func prefixes() throws {
        let flat = PrefixTuning(layers: 3, length: 2, width: 4, seed: 1)
        let kv = flat.layer(1).keysValues(batch: 2)
        #expect(kv.keys.shape == [2, 2, 4] && kv.values.shape == [2, 2, 4])
        let m = flat.peftEmbedding()
        #expect(m.shape == [2, 24])
        // Layer 1 keys are columns 8..<12, values 12..<16 (peft: view(P, L·2, C), pairs per layer).
        #expect(m.slice(axis: 1, 8..<12).storage == flat.layer(1).keys!.storage)
        #expect(m.slice(axis: 1, 12..<16).storage == flat.layer(1).values!.storage)
        let back = try PrefixTuning.fromPeftEmbedding(m, layers: 3)
        #expect(back.peftEmbedding().storage == m.storage)
        #expect(throws: AdapterError.self) { try PrefixTuning.fromPeftEmbedding(m, layers: 5) }

        let re = PrefixTuning(layers: 2, length: 3, width: 4, hidden: 5, seed: 2)
        #expect(re.layer(0).namedParameters().map(\.0) == ["embedding", "transform.0.weight", "transform.0.bias", "transform.2.weight", "transform.2.bias"])
        #expect(re.layer(1).namedParameters().isEmpty)
        let all = withoutGrad { re.embedding!.linear(weight: re.projection!.0.weight, bias: re.projection!.0.bias).tanh().linear(weight: re.projection!.1.weight, bias: re.projection!.1.bias) }
        let v1 = withoutGrad { re.layer(1).keysValues(batch: 1) }.values
        #expect(allClose(v1.reshaped([3, 4]), all.slice(axis: 1, 12..<16), atol: 1e-6))
        let folded = re.flattened()
        #expect(allClose(folded.layer(1).keysValues(batch: 1).values, v1, atol: 0))
        let check = gradCheck(re.parameters()) { _ in
            let (k, v) = re.layer(1).keysValues(batch: 2)
            return Tensor.concat([k, v], axis: 1)
        }
        #expect(check.passed, "\(check)")
    }

    @Test("prompt and prefix files in peft's layout round-trip")
    func promptFiles() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for deep in [false, true] {
            let p = PromptTuning(length: 3, width: 4, layers: deep ? 2 : nil, seed: 7)
            try PromptFiles.save(p, numLayers: 2, numHeads: 2, to: dir)
            let back = try PromptFiles.loadPrompts(from: dir)
            #expect(back.isDeep == deep && back.embeddings.storage == p.embeddings.storage && back.embeddings.shape == p.embeddings.shape)
        }
        let re = PrefixTuning(layers: 2, length: 3, width: 4, hidden: 5, seed: 8)
        try PromptFiles.save(re, numHeads: 2, to: dir)
        let flat = try PromptFiles.loadPrefix(from: dir)
        #expect(allClose(flat.layer(1).keysValues(batch: 1).keys, withoutGrad { re.layer(1).keysValues(batch: 1).keys }, atol: 0))
        #expect(throws: AdapterError.self) { try PromptFiles.loadPrompts(from: dir) }  // a prefix folder is not prompts
    }
}
