@testable import Audio
import Core
import Foundation
import Testing
import TestSupport

/// The viseme front end (`VisemeFront`, `VisemeFrontTrainer`) and the extra training sentences
/// (`TextPrompts`). The network is composed of Core's verified ops (Linear, ReLU, cross-entropy,
/// softmax), so it needs no gradient check of its own; its input building
/// is preprocessing without gradients, checked by hand below.
@Suite struct VisemeFrontTests {
    /// Frames [2, 4, 4], pool 2: frame 0 is 0.5 with a 0.1 top-left 2 × 2 block, frame 1 all 0.5.
    /// Median pixel 0.5; RMS deviation √(4 · 0.4² / 32) = √0.02 (by hand). Pooled frame 0 has
    /// −0.4/√0.02 = −2√2 in cell (0, 0), 0 elsewhere; frame 1 is 0. Context 1 clamps at the ends.
    /// Shift dx = +1 moves the image right (column 0 repeated): cell (0, 1) then holds two 0.1
    /// columns of four → −√2. An affine change of shade (0.6·x + 0.3) gives the same inputs.
    @Test func inputsNormalisePoolAndStack() throws {
        var px = [Float](repeating: 0.5, count: 32)
        for (y, x) in [(0, 0), (0, 1), (1, 0), (1, 1)] { px[y * 4 + x] = 0.1 }
        let frames = Tensor(px, shape: [2, 4, 4])
        let config = VisemeFront.Config(size: 4, pool: 2, context: 1, hidden: 3, classes: 2)
        let x = try VisemeFront.inputs(frames: frames, config: config)
        let c = -2 * Float(2).squareRoot()
        let p0: [Float] = [c, 0, 0, 0], p1: [Float] = [0, 0, 0, 0]
        #expect(x.shape == [2, 12])
        #expect((maxAbsDifference(x, Tensor(p0 + p0 + p1 + p0 + p1 + p1, shape: [2, 12])) ?? .infinity) < 1e-5)
        let shifted = try VisemeFront.inputs(frames: frames, config: VisemeFront.Config(size: 4, pool: 2, context: 0, hidden: 3, classes: 2), shift: (1, 0))
        #expect((maxAbsDifference(shifted, Tensor([c, c / 2, 0, 0, 0, 0, 0, 0], shape: [2, 4])) ?? .infinity) < 1e-5)
        let shaded = Tensor(px.map { 0.6 * $0 + 0.3 }, shape: [2, 4, 4])
        #expect((maxAbsDifference(try VisemeFront.inputs(frames: shaded, config: config), x) ?? .infinity) < 1e-4)
        #expect(throws: (any Error).self) { try VisemeFront.inputs(frames: Tensor.zeros([2, 5, 5]), config: config) }
    }

    /// Posteriors are the softmax of the logits (checked against a Double computation); hidden
    /// features have the hidden width and no negative entries (after ReLU).
    @Test func outputsArePosteriorsOrHidden() throws {
        let front = try VisemeFront(config: VisemeFront.Config(size: 8, pool: 4, context: 1, hidden: 5, classes: 4), seed: 3)
        let frames = randomTensor([3, 8, 8], seed: 5)
        let lp = try front.features(frames: frames, output: .posteriors)
        let logits = withoutGrad { front.forward(try! VisemeFront.inputs(frames: frames, config: front.config)).logits }
        #expect(lp.shape == [3, 4])
        for r in 0..<3 {
            let z = (0..<4).map { Double(logits.storage[r * 4 + $0]) }
            let lse = log(z.map { exp($0) }.reduce(0, +))
            for j in 0..<4 { #expect(abs(Double(lp.storage[r * 4 + j]) - exp(z[j] - lse)) < 1e-6) }
        }
        let h = try front.features(frames: frames, output: .hidden)
        #expect(h.shape == [3, 5] && h.storage.allSatisfy { $0 >= 0 })
    }

    /// Mouth videos rendered from random viseme sequences (each shape held 4–6 frames), one face
    /// per utterance: trained on 24 utterances, the front end labels the frames of 6 utterances
    /// with unseen faces far above chance and the majority class (random sequences of 15 classes with
    /// ±1-frame smoothing are harder than speech, and 1,700 frames are few, so it is not near perfect).
    @Test func learnsATinyRenderedSet() throws {
        let names = ["_", "p", "f", "T", "t", "s", "S", "k", "r", "w", "j", "a", "E", "i", "O"]
        #expect(names.map { Viseme.of($0).rawValue } == Array(0..<15))
        let renderer = MouthRenderer()
        var rng = SplitMix64(seed: 21)
        func utterance(_ k: Int) -> VisemeFrontTrainer.Utterance {
            var phonemes: [EspeakSynthesizer.Phoneme] = [], time = 0.0
            for _ in 0..<14 {
                phonemes.append(.init(name: names[Int(rng.next() % 15)], start: time))
                time += Double(4 + Int(rng.next() % 3)) / 25
            }
            let frames = renderer.render(phonemes: phonemes, duration: time, faceSeed: UInt64(k) &* 7919)
            return .init(frames: frames, labels: renderer.visemes(phonemes: phonemes, duration: time), name: "u\(k)")
        }
        let train = (0..<24).map(utterance), test = (100..<106).map(utterance)
        let front = try VisemeFront(config: VisemeFront.Config(size: 56, pool: 4, context: 2, hidden: 64), seed: 1)
        var o = VisemeFrontTrainer.Options()
        o.epochs = 40
        o.batchSize = 64
        o.maxShift = 1
        let before = try VisemeFrontTrainer.accuracy(front, test)
        let r = try VisemeFrontTrainer.train(front, train: train, val: test, options: o)
        #expect(r.epochLosses.last! < 0.5 * r.epochLosses.first!)
        // Measured: train 0.82, held-out 0.63 (chance 1/15; majority class 0.08, untrained 0.08).
        #expect(r.trainAccuracy > 0.75, "train accuracy \(r.trainAccuracy)")
        #expect(r.valAccuracy! > 0.5 && r.valAccuracy! > before + 0.4 && r.valAccuracy! > 5 * r.valMajorityAccuracy!, "held-out accuracy \(r.valAccuracy!) (before \(before), majority \(r.valMajorityAccuracy!))")
    }

    /// save → load gives the same outputs, a frozen network and its config; a file without the
    /// config metadata or with a wrong shape is a clear error naming the file.
    @Test func saveLoadRoundTrip() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("viseme-front-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let front = try VisemeFront(config: VisemeFront.Config(size: 8, pool: 2, context: 2, hidden: 6, classes: 5), seed: 9)
        let url = dir.appendingPathComponent("front.safetensors")
        try front.save(to: url)
        let back = try VisemeFront.load(url)
        #expect(back.config == front.config)
        #expect(back.trainableParameters().isEmpty)
        let frames = randomTensor([4, 8, 8], seed: 2)
        #expect(try back.features(frames: frames).storage == front.features(frames: frames).storage)
        #expect(try back.features(frames: frames, output: .hidden).storage == front.features(frames: frames, output: .hidden).storage)

        let plain = dir.appendingPathComponent("plain.safetensors")
        try SafeTensors.write(["fc1.weight": Tensor.zeros([6, 5])], to: plain)
        #expect { try VisemeFront.load(plain) } throws: { "\($0)".contains("plain.safetensors") && "\($0)".contains("viseme_front_config") }
        let config = String(decoding: try JSONEncoder().encode(front.config), as: UTF8.self)
        var tensors: [String: Tensor] = [:]
        for (k, t) in front.namedParameters() { tensors[k] = t }
        tensors["out.weight"] = Tensor.zeros([5, 7])
        let bad = dir.appendingPathComponent("bad.safetensors")
        try SafeTensors.write(tensors, metadata: ["viseme_front_config": config], to: bad)
        #expect { try VisemeFront.load(bad) } throws: { "\($0)".contains("out.weight") && "\($0)".contains("bad.safetensors") }
        #expect { try VisemeFront.load(dir.appendingPathComponent("none.safetensors")) } throws: { "\($0)".contains("none.safetensors") }
    }

    /// Frames without `visemes` (e.g. LRS3 crops) cannot train the front end: the error names the
    /// file and the missing tensor; labels that do not match the frame count are refused too.
    @Test func unlabelledFramesAreAClearError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("viseme-front-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let audio = dir.appendingPathComponent("u1.wav")
        try SafeTensors.write(["frames": Tensor.zeros([3, 8, 8])], to: SyntheticAVSet.framesURL(forAudio: audio))
        let item = SpeechManifest.Item(audio: audio, transcript: "hello")
        #expect { try VisemeFrontTrainer.utterances([item]) } throws: { "\($0)".contains("u1.frames.safetensors") && "\($0)".contains("visemes") }
        try SafeTensors.write(["frames": Tensor.zeros([3, 8, 8]), "visemes": Tensor([1, 2], shape: [2])], to: SyntheticAVSet.framesURL(forAudio: audio))
        #expect { try VisemeFrontTrainer.utterances([item]) } throws: { "\($0)".contains("2 viseme labels for 3 frames") }
        #expect { try VisemeFrontTrainer.utterances([SpeechManifest.Item(audio: dir.appendingPathComponent("u2.wav"), transcript: "x")]) } throws: {
            "\($0)".contains("u2.frames.safetensors")
        }
        let front = try VisemeFront(config: VisemeFront.Config(size: 8, pool: 2, context: 0, hidden: 4, classes: 3), seed: 1)
        #expect(throws: (any Error).self) {
            try VisemeFrontTrainer.train(front, train: [.init(frames: Tensor.zeros([2, 8, 8]), labels: [0, 3], name: "x")])
        }
    }

    /// Lines with 3–12 plain words are kept (digits, brackets, too short / too long and repeated
    /// lines are not); the draw is a pure function of the seed; ids are 1-based line numbers.
    @Test func textPromptsFilterAndSeededPick() throws {
        let text = """
            a unit for measuring computer memory
            too short
            a sentence with (brackets) in it
            the year 1984 was written with digits
            one two three four five six seven eight nine ten eleven twelve thirteen
            a unit for measuring computer memory
            a long-handled tool, used by the farmer's wife
            """
        let all = try TextPrompts.pick(text: text, count: 10, seed: 1)
        #expect(Set(all.map(\.id)) == ["text/1", "text/7"])
        #expect(all.first { $0.id == "text/7" }?.text == "a long-handled tool, used by the farmer's wife")
        let a = try TextPrompts.pick(text: text, count: 1, seed: 4).map(\.id), b = try TextPrompts.pick(text: text, count: 1, seed: 4).map(\.id)
        #expect(a == b && a.count == 1)
        #expect(try TextPrompts.pick(text: text, count: 0, seed: 1).isEmpty)
        #expect(throws: (any Error).self) { try TextPrompts.pick(text: "1 2 3\n", count: 3, seed: 1) }
        #expect(throws: (any Error).self) { try TextPrompts.pick(contentsOf: URL(fileURLWithPath: "/nonexistent/sentences.txt"), count: 3, seed: 1) }
    }
}
