import Audio
import Core
import Foundation
import Testing
import TestSupport

/// Omni-AVSR building blocks on the tiny HF Whisper: Matryoshka pooling, zero-start projectors,
/// task routing of the Omni-LoRA gradients, ST = shared + task, and the paper's loss weights.
@Suite struct WhisperOmniAVSRTests {
    func tinyWhisper() throws -> (WhisperModel, Tensor) {
        let model = try WhisperModel(checkpoint: try WhisperCheckpoint.load(WhisperFixtures.fixture("tiny_hf")))
        let io = try FixtureFile(WhisperFixtures.fixture("tiny_hf/io.safetensors"))
        // 40 frames of the real encoder output keep the tests fast; any memory length works.
        return (model, try io["output.encoder_last_hidden_state"].slice(axis: 1, 0..<40))
    }

    @Test func averagePoolingByHandAndGradient() {
        // Frames 1…5 at rate 2: windows {1,2}, {3,4}, {5} → 1.5, 3.5, 5 (the partial window keeps its own mean).
        let x = Tensor([1, 2, 3, 4, 5], shape: [1, 5, 1])
        #expect(MatryoshkaBranch.averagePool(x, rate: 2).storage == [1.5, 3.5, 5])
        #expect(MatryoshkaBranch.averagePool(x, rate: 16).storage == [3])
        #expect(MatryoshkaBranch.pooledLength(1500, rate: 16) == 94)
        let y = randomTensor([2, 7, 3], seed: 4)
        y.requiresGrad = true
        #expect(gradCheck([y]) { MatryoshkaBranch.averagePool($0[0], rate: 3) }.passed)
    }

    /// With the residual projector's fc2 and the modality embedding at zero and LoRA B at zero,
    /// rate 1 audio-only is exactly Whisper: memory = encoder output, logits unchanged.
    @Test func rateOneStartsAsPlainWhisper() throws {
        let (model, states) = try tinyWhisper()
        let tokens = [510, 3, 141, 59]
        let plain = try withoutGrad { try model.decoder.logits(model.decoder.forward(tokens: tokens, batch: 1, memory: states)) }
        let omni = try OmniAVSR(whisper: model, videoDim: nil, seed: 3)
        omni.setTask(.asr)
        let (memory, mask) = try omni.memory(task: .asr, audioStates: states, audioRate: 1, videoFeatures: nil, videoRate: 1)
        #expect(memory.storage == states.storage && mask.storage.allSatisfy { $0 == 1 })
        let adapted = try withoutGrad { try model.decoder.logits(model.decoder.forward(tokens: tokens, batch: 1, memory: memory, memoryMask: mask)) }
        #expect(adapted.storage == plain.storage)
        // Rate 16 keeps ⌈40/16⌉ = 3 tokens; a shorter valid length masks the rest.
        let (m16, mask16) = try omni.memory(task: .asr, audioStates: states, audioLengths: [17], audioRate: 16, videoFeatures: nil, videoRate: 1)
        #expect(m16.shape == [1, 3, 64] && mask16.storage == [1, 1, 0])
        #expect(throws: WhisperDecodeError.self) { _ = try omni.memory(task: .asr, audioStates: states, audioRate: 3, videoFeatures: nil, videoRate: 1) }
        #expect(throws: WhisperDecodeError.self) { _ = try omni.memory(task: .vsr, audioStates: states, audioRate: 1, videoFeatures: nil, videoRate: 1) }
    }

    /// T mode: a VSR batch's loss gives gradient to the VSR LoRAs and the video branch only.
    @Test func taskModeRoutesGradientsToTheCurrentTask() throws {
        let (model, states) = try tinyWhisper()
        let omni = try OmniAVSR(whisper: model, videoDim: 16, loraMode: .task, seed: 5)
        let video = randomTensor([1, 25, 16], seed: 9)
        let (memory, mask) = try omni.memory(task: .vsr, audioStates: states, audioRate: 4, videoFeatures: video, videoRate: 5)
        #expect(memory.shape == [1, 5, 64])  // video only: ⌈25/5⌉ tokens
        let loss = try omni.loss(task: .vsr, memory: memory, mask: mask, sequences: [[510, 3, 141, 59, 509]], promptLength: 1)
        loss.backward()
        func hasGrad(_ t: Tensor) -> Bool { (t.gradStorage ?? []).contains { $0 != 0 } }
        let trainable = omni.trainableParameters()
        let withGrad = Set(trainable.filter { hasGrad($0.1) }.map(\.0))
        #expect(trainable.filter { $0.0.contains("tasks.vsr.lora_B") }.allSatisfy { withGrad.contains($0.0) })
        #expect(!withGrad.contains { $0.contains("tasks.asr") || $0.contains("tasks.avsr") || $0.hasPrefix("audio.") })
        #expect(withGrad.contains("video.modality_embedding"))
        #expect(model.parameters().filter { $0.requiresGrad }.count == omni.loras.count * 3 * 2)  // only LoRA factors in Whisper
    }

    /// ST: the adapted projection is base + s·B_s·A_s·x + s·B_t·A_t·x, recomputed here by hand.
    @Test func sharedPlusTaskIsTheSum() throws {
        let (model, _) = try tinyWhisper()
        let omni = try OmniAVSR(whisper: model, videoDim: nil, loraMode: .sharedAndTask, reductionFactor: 8, alpha: 8, seed: 2)
        let q = model.decoder.layers.items[0].selfAttention.query
        let lora = omni.loras[0].adapter
        #expect(omni.loras[0].path == "layers.0.self_attn.q_proj" && lora.shared?.rank == 8 && lora.shared?.scaling == 1)
        var rng = SplitMix64(seed: 11)
        for l in [lora.shared!] + lora.taskAdapters.map(\.lora) { l.loraB.storage = Tensor.normal(l.loraB.shape, std: 0.1, using: &rng).storage }
        omni.setTask(.avsr)
        let x = randomTensor([2, 3, 64], seed: 1)
        let got = withoutGrad { q(x) }
        let task = lora.taskAdapters.first { $0.task == "avsr" }!.lora, shared = lora.shared!
        func delta(_ l: LoRA) -> Tensor { x.linear(weight: l.loraA).linear(weight: l.loraB) * l.scaling }
        let expected = withoutGrad { x.linear(weight: q.weight, bias: q.bias) + delta(shared) + delta(task) }
        #expect(allClose(got, expected, atol: 1e-5, rtol: 0), "\(differenceReport(got, expected))")
    }

    @Test func combinedLossUsesThePaperWeights() {
        let losses: [AVSRTask: Tensor] = [.asr: Tensor(scalar: 2), .vsr: Tensor(scalar: 4), .avsr: Tensor(scalar: 1)]
        #expect(OmniAVSR.combinedLoss(losses).item == (1.0 * 2 + 1.5 * 4 + 1.0 * 1) / 3)
    }
}
