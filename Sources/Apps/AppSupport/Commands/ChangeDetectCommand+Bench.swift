import Core
import Foundation
import Vision

extension ChangeDetectCommand {
    struct BenchFigures: Encodable {
        var engine: String
        var peft: String
        var size: Int
        var batch: Int
        var trainPairsPerSecond: Double
        var inferencePairsPerSecond: Double
        var trainable: Int
    }

    /// Training and inference pairs/s of the whole PeftCD network (both dates, exchange, decoder)
    /// on random pixels; with `--peer-python`, the same network in PyTorch + peft
    /// (`scripts/change-peer-bench.py`) in the same run.
    static func bench(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["size", "batch", "steps", "peft", "model", "peer-python", "peer-script"], flags: ["json"])
        let size = try a.int("size", default: 224), batch = try a.int("batch", default: 2), steps = try a.int("steps", default: 3)
        var o = try modelOptions(Arguments(["--peft", a.string("peft", default: "lora")], options: trainOptions, flags: []))
        o.loraDropout = 0
        let network = try ChangeDetectionNetwork(backbone: try backbone(a.string("model")), options: o)
        var rng = SplitMix64(seed: 1)
        let xa = Tensor.normal([batch, 3, size, size], std: 1, using: &rng), xb = Tensor.normal([batch, 3, size, size], std: 1, using: &rng)
        let labels = (0..<(batch * size * size)).map { ($0 / 97) % 2 }
        let params = network.trainableParameters()
        let opt = AdamW(learningRate: 3e-4, weightDecay: 1e-4)
        func trainStep() throws {
            network.train()
            let (la, lb) = try network.streams(before: xa, after: xb)
            let loss = ChangeDetectionNetwork.loss(la, lb, labels: labels)
            opt.zeroGrad(params)
            loss.backward()
            _ = clipGradNorm(params, maxNorm: 1)
            opt.step(params)
        }
        try trainStep()  // warm-up
        var t0 = Date()
        for _ in 0..<steps { try trainStep() }
        let train = Double(steps * batch) / Date().timeIntervalSince(t0)
        network.eval()
        _ = try withoutGrad { try network.logits(before: xa, after: xb) }
        t0 = Date()
        for _ in 0..<steps { _ = try withoutGrad { try network.logits(before: xa, after: xb) } }
        let infer = Double(steps * batch) / Date().timeIntervalSince(t0)
        var rows = [BenchFigures(engine: "PEFTKit", peft: o.peft.rawValue, size: size, batch: batch, trainPairsPerSecond: train,
                                 inferencePairsPerSecond: infer, trainable: network.parameterCounts().trainable)]
        if let py = a.string("peer-python") {
            let script = a.string("peer-script", default: "scripts/change-peer-bench.py")
            let model = a.string("model") ?? VisionBackbone.defaultCache.path
            let p = Process()
            p.executableURL = URL(fileURLWithPath: py)
            p.arguments = [script, "--model", model, "--size", String(size), "--batch", String(batch), "--steps", String(steps), "--peft", o.peft.rawValue]
            let pipe = Pipe()
            p.standardOutput = pipe
            try p.run()
            let out = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            guard p.terminationStatus == 0, let j = try JSONSerialization.jsonObject(with: out) as? [String: Any],
                  let tr = j["train_pairs_per_second"] as? Double, let inf = j["inference_pairs_per_second"] as? Double else {
                throw DatasetError("\(script): the peer benchmark failed (exit \(p.terminationStatus)); run it by hand to see why")
            }
            rows.append(BenchFigures(engine: j["engine"] as? String ?? "PyTorch", peft: o.peft.rawValue, size: size, batch: batch,
                                     trainPairsPerSecond: tr, inferencePairsPerSecond: inf, trainable: j["trainable"] as? Int ?? 0))
        }
        if a.has("json") { try printJSON(rows); return 0 }
        print("engine                      peft     size  batch  train pairs/s  inference pairs/s  trainable")
        for r in rows {
            print(r.engine.padding(toLength: 27, withPad: " ", startingAt: 0) + " " + r.peft.padding(toLength: 8, withPad: " ", startingAt: 0)
                  + String(format: " %4d  %5d  %13.3f  %17.3f  %9d", r.size, r.batch, r.trainPairsPerSecond, r.inferencePairsPerSecond, r.trainable))
        }
        return 0
    }
}
