import Core
import Foundation
import Vision

/// The comparison table of `face-adapt eval` and `demo`: one block per method, one row per
/// probe size, and the no-forgetting line (full-resolution rank-1 against the frozen network).
enum FaceAdaptTable {
    static func render(_ reports: [FaceEvalReport]) -> String {
        guard let first = reports.first else { return "(no results)" }
        func pct(_ v: Double?) -> String { v.map { String(format: "%6.1f", 100 * $0) } ?? "     -" }
        var lines = ["\(first.protocolName)-set protocol: \(first.testIdentities) test identities, \(first.galleryImages) gallery, \(first.probes) probes",
                     first.note, "",
                     "method  probe   rank-1  rank-5  TAR@FAR1%  TAR@FAR10%  mean α"]
        for r in reports {
            for row in r.rows {
                lines.append(r.method.padding(toLength: 7, withPad: " ", startingAt: 0) + " " + row.probe.padding(toLength: 5, withPad: " ", startingAt: 0)
                             + "  " + pct(row.rank1) + "  " + pct(row.rank5) + "     " + pct(row.tarAtFar1) + "      " + pct(row.tarAtFar10)
                             + "  " + (row.meanAlpha.map { String(format: "%5.2f", $0) } ?? "    -"))
            }
        }
        if let base = reports.first(where: { $0.method == FaceAdaptMethod.frozen.rawValue })?.highResolutionRank1 {
            lines.append("")
            lines.append("no-forgetting check (full-resolution rank-1, frozen \(pct(base).trimmingCharacters(in: .whitespaces))%):")
            for r in reports where r.method != FaceAdaptMethod.frozen.rawValue {
                guard let after = r.highResolutionRank1 else { continue }
                lines.append("  \(r.method): " + String(format: "%.1f%% (%+.1f points)", 100 * after, 100 * (after - base)))
            }
        }
        return lines.joined(separator: "\n")
    }
}

extension FaceAdaptCommand {
    /// `make demo`: every method on ORL's open-set split with a short stated schedule, then the table.
    static func demo(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["data", "methods", "epochs", "train-sizes", "probe-sizes", "out", "model", "protocol", "seed", "lr"], flags: [])
        let data = dataFolder(a)
        let out = URL(fileURLWithPath: a.string("out", default: "runs/face-demo"))
        let epochs = try a.int("epochs", default: 2)
        let methods = try a.list("methods", default: ["frozen", "head", "lora", "full", "petal"]).map { name in
            guard let m = FaceAdaptMethod(rawValue: name) else { throw ArgumentError.badValue("methods", name, expected: "frozen, head, lora, full, petal") }
            return m
        }
        let kind = try protocolKind(a)
        let trainSizes = try sizes(a, "train-sizes", default: [0, 16, 12, 8])
        let probeSizes = try sizes(a, "probe-sizes", default: [0, 32, 16, 12, 8])
        let modelURL = modelFile(a)
        log("""
            face-adapt demo: SFace (OpenCV Zoo) on \(data.path) (\(FaceDataset.orlCredit)), \(kind.rawValue)-set split
              methods \(methods.map(\.rawValue).joined(separator: ", ")); each trains \(epochs) epoch(s), batch 16, AdamW lr 5e-4 wd 0.1,
              1 warmup epoch then linear decay, CosFace s 64 m 0.4, training sizes \(trainSizes) (0 = full), seed 19.
              A SHORT schedule (PETALface trains 40–50 epochs on TinyFace): one SFace training step on 2 CPU cores costs
              seconds, so the demo shows the pipeline and the direction of the effect, not converged numbers.
            """)
        var reports: [FaceEvalReport] = []
        for m in methods {
            log("== \(m.rawValue)")
            if m == .frozen {
                let split = try FaceSplit.make(try dataset(data), protocol: kind)
                let frozen = try FaceAdapter(model: try loadModel(modelURL), method: .frozen)
                reports.append(try FaceAdaptEvaluation.evaluate(frozen, split: split, probeSizes: probeSizes.map { $0 == 0 ? nil : $0 }, log: log))
                continue
            }
            var o = FaceAdaptOptions(method: m)
            o.epochs = epochs
            o.trainSizes = trainSizes
            o.seed = try a.uint64("seed", default: o.seed)
            o.learningRate = try double(a, "lr", default: o.learningRate)
            let (_, report) = try trainOne(data: data, modelURL: modelURL, options: o, protocolKind: kind, trainIdentities: nil, trainImages: nil,
                                           out: out.appendingPathComponent(m.rawValue), probeSizes: probeSizes, evaluate: true)
            if let report { reports.append(report) }
        }
        try FaceAdaptStore.write(reports, to: out.appendingPathComponent("table.json"))
        print(FaceAdaptTable.render(reports))
        print("adapters, metrics.json and table.json under \(out.path)")
        return 0
    }
}

/// Throughput of SFace inference and of PETALface training steps (benchmark, not a test).
enum FaceAdaptBench {
    struct Result: Encodable {
        let method: String
        let batch: Int
        let inferImagesPerSecond: Double
        let trainImagesPerSecond: Double
        let trainable: Int
    }

    static func run(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["batch", "steps", "model", "methods", ThreadsOption.key], flags: ["json"])
        try ThreadsOption.apply(a)
        let batch = try a.int("batch", default: 16), steps = try a.int("steps", default: 3)
        guard batch >= 2, steps >= 1 else { throw ArgumentError.badValue("batch/steps", "\(batch)/\(steps)", expected: "batch ≥ 2 and steps ≥ 1") }
        let modelURL = FaceAdaptCommand.modelFile(a)
        // Real faces when ORL is installed (the arithmetic does not depend on content).
        var inputs: [[Float]] = []
        if let orl = try? FaceDataset.orl(models: FaceAdaptCommand.modelsFolder) {
            for (i, identity) in orl.identities.prefix(batch).enumerated() {
                let s = FaceSample(image: try ImageDecoder.decode(contentsOf: identity.images[0]), label: i, file: identity.images[0].path)
                inputs.append(try s.input(side: 112, probeSize: i % 2 == 0 ? nil : 16))
            }
        }
        while inputs.count < batch { inputs.append([Float](repeating: Float(inputs.count * 7 % 255), count: 3 * 112 * 112)) }
        let x = Tensor(inputs.flatMap { $0 }, shape: [batch, 3, 112, 112])
        let q = inputs.map { FaceQuality.score(sfaceInput: $0, side: 112) }
        var results: [Result] = []
        for name in a.list("methods", default: ["petal"]) {
            guard let method = FaceAdaptMethod(rawValue: name) else { throw ArgumentError.badValue("methods", name, expected: "frozen, head, lora, full, petal") }
            let model = try FaceAdaptCommand.loadModel(modelURL)
            let adapter = try FaceAdapter(model: model, method: method, dropout: 0.1)
            adapter.setTraining(false)
            _ = withoutGrad { adapter.forward(x, qualities: q) }   // warm-up
            var t0 = Date()
            for _ in 0..<steps { _ = withoutGrad { adapter.forward(x, qualities: q) } }
            let infer = Double(batch * steps) / Date().timeIntervalSince(t0)
            var train = 0.0
            if method != .frozen {
                var rng = SplitMix64(seed: 1)
                let classifier = Tensor.normal([batch, model.embeddingSize], std: 0.01, using: &rng)
                classifier.requiresGrad = true
                let params = adapter.trainableParameters + [("classifier", classifier)]
                let opt = AdamW(learningRate: 5e-4, weightDecay: 0.1)
                let targets = Array(0..<batch)
                for step in 0...steps {
                    if step == 1 { t0 = Date() }   // step 0 is the warm-up
                    adapter.setTraining(true)
                    let l = MarginLoss.cosFace().loss(embeddings: adapter.forward(x, qualities: q), classWeights: classifier, targets: targets)
                    for (_, p) in params { p.zeroGrad() }
                    l.backward()
                    _ = clipGradNorm(params, maxNorm: 5)
                    opt.step(params)
                }
                train = Double(batch * steps) / Date().timeIntervalSince(t0)
            }
            results.append(Result(method: name, batch: batch, inferImagesPerSecond: infer, trainImagesPerSecond: train,
                                  trainable: adapter.parameterCounts.trainable))
        }
        if a.has("json") {
            for r in results {
                let e = JSONEncoder()
                e.outputFormatting = [.sortedKeys]
                e.keyEncodingStrategy = .convertToSnakeCase
                print("RESULT " + String(decoding: try e.encode(r), as: UTF8.self))
            }
        } else {
            print("SFace 112×112, batch \(batch), \(steps) step(s)")
            print("method  trainable  infer img/s  train img/s")
            for r in results {
                print(r.method.padding(toLength: 7, withPad: " ", startingAt: 0) + String(format: " %9d %12.2f %12.2f", r.trainable, r.inferImagesPerSecond, r.trainImagesPerSecond))
            }
        }
        return 0
    }
}
