import Core
import Foundation
import Testing
import TestSupport

/// Checkpoint and resume through `TrainingSession`: a run interrupted after any step and
/// resumed from its checkpoint ends with bit-identical trainable weights (the reference is the
/// same run without interruption, dropout on so the generator states matter), the file is one
/// atomic safetensors file, and a checkpoint of another run is refused naming the difference.
@Suite struct TrainCheckpointTests {
    static let steps = 6
    static let data: [(ids: [Int], labels: [Int])] = {
        var rng = SplitMix64(seed: 4)
        return (0..<steps).map { _ in OrderTask.batch(size: 4, length: 6, using: &rng) }
    }()

    static func session(_ folder: URL?, config: [String: String] = ["lr": "0.01"], modelSeed: UInt64 = 9,
                        world: any Distributed = SingleProcess()) throws -> (TinyEncoderClassifier, [(String, Tensor)], TrainingSession) {
        var c = TransformerLayerConfig(dim: 8, numHeads: 2, ffnDim: 16)
        c.hiddenDropout = 0.2
        let m = try TinyEncoderClassifier(vocab: OrderTask.vocab, maxLength: 8, config: c, numLayers: 2, numClasses: 2,
                                          store: .random(seed: modelSeed), seed: 5)
        let peft = PeftModel(m)
        var a = AdapterConfig.lora(r: 2, alpha: 4, targets: ["query", "value"])
        a.loraDropout = 0.1
        a.modulesToSave = ["classifier"]
        try peft.addAdapter(a)
        let params = peft.trainableParameters()
        let s = try TrainingSession(command: "test train", model: m, parameters: params, optimizer: AdamW(learningRate: 1e-2),
                                    config: config, folder: folder, every: 2, world: world)
        return (m, params, s)
    }

    /// Trains steps `from..<to` with a linear schedule keyed on the step, checkpointing when due.
    static func train(_ m: TinyEncoderClassifier, _ params: [(String, Tensor)], _ s: TrainingSession, from: Int, to: Int) throws {
        let schedule = LRSchedule.linear(warmup: 1, total: steps)
        for step in from..<to {
            let b = data[step]
            s.optimizer.learningRate = schedule.learningRate(at: step, base: 1e-2)
            try m(b.ids, batch: 4, length: 6).crossEntropyLoss(targets: b.labels).backward()
            try s.averageGradients(localWeight: 4)
            s.optimizer.step(params)
            s.optimizer.zeroGrad(params)
            try s.checkpointIfDue(TrainingPosition(step: step + 1, epoch: 1, batchInEpoch: step + 1), progress: "{\"done\":\(step + 1)}")
        }
    }

    @Test("stop after any step, resume from the last checkpoint: bit-identical weights")
    func resumeIsBitIdentical() throws {
        let (m0, p0, s0) = try Self.session(nil)
        try Self.train(m0, p0, s0, from: 0, to: Self.steps)
        let reference = p0.map { $0.1.storage }

        for stop in [2, 3, 5] {
            let dir = try TestPaths.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: dir) }
            let (m1, p1, s1) = try Self.session(dir)
            try Self.train(m1, p1, s1, from: 0, to: stop)   // "killed" after `stop` steps
            let (m2, p2, s2) = try Self.session(dir)
            let ckpt = try s2.resume(from: dir)
            #expect(ckpt.position.step == stop / 2 * 2 && ckpt.progress == "{\"done\":\(stop / 2 * 2)}")
            try Self.train(m2, p2, s2, from: ckpt.position.step, to: Self.steps)
            #expect(p2.map { $0.1.storage } == reference, "stopped after step \(stop)")
        }
        // Without the generator states, dropout masks differ and so do the weights (the
        // comparison above is sensitive to them).
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (m3, p3, s3) = try Self.session(dir)
        try Self.train(m3, p3, s3, from: 0, to: 2)
        let (m4, p4, s4) = try Self.session(dir)
        var ckpt = try TrainingCheckpoint.read(from: dir)
        ckpt.randomStates = ckpt.randomStates.map { $0.mapValues { $0 &+ 1 } }
        try ckpt.write(to: dir)
        _ = try s4.resume(from: dir)
        try Self.train(m4, p4, s4, from: 2, to: Self.steps)
        #expect(p4.map { $0.1.storage } != reference)
    }

    @Test("the checkpoint holds weights, optimizer moments, position, config and every generator")
    func contents() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (m, p, s) = try Self.session(dir)
        try Self.train(m, p, s, from: 0, to: 2)
        let ckpt = try TrainingCheckpoint.read(from: dir.appendingPathComponent(TrainingCheckpoint.fileName))
        #expect(Set(ckpt.parameters.keys) == Set(p.map(\.0)))
        #expect(ckpt.optimizer.keys.contains { $0.hasSuffix(".exp_avg_sq") } && ckpt.optimizer.count == 3 * p.count)
        #expect(ckpt.position == TrainingPosition(step: 2, epoch: 1, batchInEpoch: 2) && ckpt.config == ["lr": "0.01"])
        // The LoRA adapters' dropout generators are found through their Linear layers.
        #expect(ckpt.ranks == 1 && ckpt.randomStates[0].keys.contains { $0.contains("adapters") })
        #expect(ckpt.randomStates[0].keys.contains { $0.contains("embeddingDropout") })
        #expect(ModelRandomState.unrestorableGenerators(of: m).isEmpty)
        #expect(ckpt.randomStates[0] == ModelRandomState.capture(m))
        // No temporary file is left beside it.
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(names == [TrainingCheckpoint.fileName])
    }

    @Test("a checkpoint of another run is refused, naming each difference")
    func refusals() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (m, p, s) = try Self.session(dir)
        try Self.train(m, p, s, from: 0, to: 2)

        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "" } catch { return "\(error)" }
        }
        let (_, _, otherConfig) = try Self.session(nil, config: ["lr": "0.02", "r": "2"])
        let m1 = message { _ = try otherConfig.resume(from: dir) }
        #expect(m1.contains("refusing to resume") && m1.contains("lr: checkpoint 0.01, this run 0.02") && m1.contains("r: checkpoint (not set), this run 2"))
        #expect(!m1.contains("\n"))
        let (_, _, otherModel) = try Self.session(nil, modelSeed: 10)
        #expect(message { _ = try otherModel.resume(from: dir) }.contains("base model: checkpoint fingerprint"))
        let empty = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: empty) }
        #expect(message { _ = try s.resume(from: empty) }.contains("no such file; --resume takes the --out folder"))
        let plain = empty.appendingPathComponent("weights.safetensors")
        try SafeTensors.write(["w": Tensor([1], shape: [1])], to: plain)
        #expect(message { _ = try s.resume(from: plain) }.contains("without PEFTKit's training header"))
    }

    @Test("two ranks as threads: every rank's generators are saved and a same-size resume is bit-identical")
    func twoRankResume() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let full = ResultBox(), resumed = ResultBox()
        try ThreadGroup.run(ranks: 2) { world in
            let (m, p, s) = try Self.session(nil, world: world)
            try Self.train(m, p, s, from: 0, to: Self.steps)
            full.set(world.rank, p.map { ($0.0, $0.1.storage) })
        }
        try ThreadGroup.run(ranks: 2) { world in
            let (m, p, s) = try Self.session(dir, world: world)
            try Self.train(m, p, s, from: 0, to: 3)
        }
        let ckpt = try TrainingCheckpoint.read(from: dir)
        #expect(ckpt.ranks == 2 && ckpt.randomStates[0] != ckpt.randomStates[1])
        try ThreadGroup.run(ranks: 2) { world in
            let (m, p, s) = try Self.session(dir, world: world)
            let c = try s.resume(from: dir)
            try Self.train(m, p, s, from: c.position.step, to: Self.steps)
            resumed.set(world.rank, p.map { ($0.0, $0.1.storage) })
        }
        for r in 0..<2 {
            let a = try #require(full.get(r)), b = try #require(resumed.get(r))
            #expect(a.map(\.1) == b.map(\.1), "rank \(r)")
        }
    }
}
