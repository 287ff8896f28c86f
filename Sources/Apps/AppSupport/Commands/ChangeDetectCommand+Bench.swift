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
        var threads: Int?
        var round: Int
    }

    /// Training and inference pairs/s of the whole PeftCD network (both dates, exchange, decoder)
    /// on random pixels; with `--peer-python`, the same network in PyTorch + peft
    /// (`scripts/change-peer-bench.py`) in the same run. `--rounds N` alternates the two engines
    /// N times (on a shared machine one reading of each says little); `--threads N` gives both
    /// engines N threads (PyTorch through `torch.set_num_threads`).
    static func bench(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["size", "batch", "steps", "peft", "model", "peer-python", "peer-script", "rounds", ThreadsOption.key], flags: ["json"])
        try ThreadsOption.apply(a)
        let threads = try a.string(ThreadsOption.key).map { _ in try a.int(ThreadsOption.key, default: 1) }
        // 256² as in PeftCD (and the issue); with DINOv2's 14-px patches that is an 18×18 token
        // grid over the first 252 px, exactly as Hugging Face's Dinov2Model treats it.
        let size = try a.int("size", default: 256), batch = try a.int("batch", default: 2), steps = try a.int("steps", default: 3)
        let rounds = try a.int("rounds", default: 1)
        guard size > 0, batch > 0, steps > 0, rounds > 0 else {
            throw ArgumentError.badValue("size/batch/steps/rounds", "\(size)/\(batch)/\(steps)/\(rounds)", expected: "positive numbers")
        }
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
        var rows: [BenchFigures] = []
        for round in 1...rounds {
            var t0 = Date()
            for _ in 0..<steps { try trainStep() }
            let train = Double(steps * batch) / Date().timeIntervalSince(t0)
            network.eval()
            _ = try withoutGrad { try network.logits(before: xa, after: xb) }
            t0 = Date()
            for _ in 0..<steps { _ = try withoutGrad { try network.logits(before: xa, after: xb) } }
            let infer = Double(steps * batch) / Date().timeIntervalSince(t0)
            rows.append(BenchFigures(engine: "PEFTKit", peft: o.peft.rawValue, size: size, batch: batch, trainPairsPerSecond: train,
                                     inferencePairsPerSecond: infer, trainable: network.parameterCounts().trainable, threads: threads, round: round))
            if let py = a.string("peer-python") {
                rows.append(try peerBench(python: py, script: a.string("peer-script", default: "scripts/change-peer-bench.py"),
                                          model: a.string("model") ?? VisionBackbone.defaultCache.path, size: size, batch: batch, steps: steps,
                                          peft: o.peft.rawValue, threads: threads, round: round))
            }
        }
        if a.has("json") { try printJSON(rows); return 0 }
        print("round  engine                      peft     size  batch  train pairs/s  inference pairs/s  trainable  threads")
        for r in rows {
            print(String(format: "%5d  ", r.round) + r.engine.padding(toLength: 27, withPad: " ", startingAt: 0) + " " + r.peft.padding(toLength: 8, withPad: " ", startingAt: 0)
                  + String(format: " %4d  %5d  %13.3f  %17.3f  %9d  ", r.size, r.batch, r.trainPairsPerSecond, r.inferencePairsPerSecond, r.trainable)
                  + (r.threads.map(String.init) ?? "default"))
        }
        return 0
    }

    /// Runs `scripts/change-peer-bench.py` once and reads its JSON line.
    static func peerBench(python: String, script: String, model: String, size: Int, batch: Int, steps: Int, peft: String,
                          threads: Int?, round: Int) throws -> BenchFigures {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [script, "--model", model, "--size", String(size), "--batch", String(batch), "--steps", String(steps), "--peft", peft]
            + (threads.map { ["--threads", String($0)] } ?? [])
        let pipe = Pipe()
        p.standardOutput = pipe
        do { try p.run() } catch { throw DatasetError("\(python): cannot be started (\(error)); pass the peer venv's python, e.g. /work/peer-venv/bin/python") }
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        // The last line is the JSON object (libraries may print above it).
        let last = String(decoding: out, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
        guard p.terminationStatus == 0, let j = try? JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any],
              let tr = j["train_pairs_per_second"] as? Double, let inf = j["inference_pairs_per_second"] as? Double else {
            throw DatasetError("\(script): the peer benchmark failed (exit \(p.terminationStatus)); run it by hand to see why")
        }
        return BenchFigures(engine: j["engine"] as? String ?? "PyTorch", peft: peft, size: size, batch: batch, trainPairsPerSecond: tr,
                            inferencePairsPerSecond: inf, trainable: j["trainable"] as? Int ?? 0, threads: j["threads"] as? Int, round: round)
    }
}
