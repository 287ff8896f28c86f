import Core
import Foundation
import Text

/// `peftkit-bench zoo`: one training step of each adapter method on MiniLM-L6's query and value
/// projections (the `ner` benchmark's model and synthetic batch, 16 × 128 tokens by default),
/// next to LoRA: tokens/s (median step) and peak RSS. Each method runs in a child process of
/// this executable (`zoo --single M`), so every peak RSS is that method's own, not the maximum
/// so far. Sizes are `compare`'s configs at rank `--r` (8); LoCA and QWHA get LoRA's count,
/// `r·(in + out)` coefficients per layer (QWHA's own matching rule). The token-classification
/// head trains in full, as in the `ner` benchmark.
enum ZooBench {
    static let usage = """
        usage: peftkit-bench zoo [--methods lora,dora,dylora,…  (default: lora and all twelve zoo methods)] [--r 8]
                                 [--batch 16] [--seq 128] [--warmup 1] [--train-steps 3] [--model DIR | --random-init] [--json FILE]
          One training step per method on MiniLM-L6 q,v (each in its own process): tokens/s and peak RSS, LoRA first.
        """

    struct Row: Codable {
        var method: String
        var trainable: Int
        var tokensPerSecond: Double
        var peakRSSMiB: Double
        var lossFirst: Float
        var lossLast: Float
    }

    static func run(_ args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["methods", "r", "batch", "seq", "warmup", "train-steps", "model", "single", "json"],
                              flags: ["random-init"])
        if let m = a.string("single") {
            let row = try single(m, a)
            print(String(decoding: try JSONEncoder().encode(row), as: UTF8.self))
            return 0
        }
        let methods = a.list("methods", default: ["lora"] + PeftMethod.zooNames.map(\.name))
        for m in methods where !Compare.knownMethods.contains(m) {
            throw ArgumentError.badValue("methods", m, expected: "one of \(Compare.knownMethods.joined(separator: ", "))")
        }
        let exe = URL(fileURLWithPath: CommandLine.arguments[0])
        var forwarded: [String] = []
        for k in ["r", "batch", "seq", "warmup", "train-steps", "model"] { if let v = a.string(k) { forwarded += ["--\(k)", v] } }
        if a.has("random-init") { forwarded.append("--random-init") }
        print("OpenBLAS kernel: \(BLAS.coreName), threads: \(BLAS.threads); batch \(a.string("batch") ?? "16") × \(a.string("seq") ?? "128") tokens, MiniLM-L6 q,v")
        print("method        trainable     tokens/s   × LoRA   peak RSS MiB   loss first → last")
        var rows: [Row] = []
        for m in methods {
            let p = Process()
            p.executableURL = exe
            p.arguments = ["zoo", "--single", m] + forwarded
            let pipe = Pipe()
            p.standardOutput = pipe
            try p.run()
            let out = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            guard p.terminationStatus == 0, let line = String(decoding: out, as: UTF8.self).split(separator: "\n").last,
                  let row = try? JSONDecoder().decode(Row.self, from: Data(line.utf8)) else {
                print("\(m.padding(toLength: 12, withPad: " ", startingAt: 0))  failed (exit \(p.terminationStatus))")
                continue
            }
            rows.append(row)
            let ratio = rows.first.map { row.tokensPerSecond / $0.tokensPerSecond } ?? 1
            print(String(format: "%@ %10d %12.0f %8.2f %14.0f   %.4f → %.4f", m.padding(toLength: 12, withPad: " ", startingAt: 0), row.trainable,
                         row.tokensPerSecond, ratio, row.peakRSSMiB, Double(row.lossFirst), Double(row.lossLast)))
        }
        if let j = a.string("json") {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try e.encode(rows), to: URL(fileURLWithPath: j), createDirectories: true)
        }
        return 0
    }

    /// One method's figures in this process.
    static func single(_ method: String, _ a: Arguments) throws -> Row {
        let batch = try a.int("batch", default: 16), seq = try a.int("seq", default: 128)
        let warmup = try a.int("warmup", default: 1), steps = try a.int("train-steps", default: 3)
        guard batch > 0, seq >= 2, seq <= 512, warmup >= 0, steps > 0 else {
            throw ArgumentError.badValue("batch/seq/steps", "\(batch)/\(seq)/\(steps)", expected: "positive sizes (seq in 2...512)")
        }
        AllocatorTuning.retainFreedMemory()
        let folder: String? = a.has("random-init") ? nil : try (a.string("model") ?? DefaultModels.miniLM())
        let model = try NERBench.buildModel(folder: folder, numLabels: 9, seed: 0)
        let r = try a.int("r", default: 8)
        // LoCA / QWHA: as many coefficients as LoRA has parameters on a 384 × 384 projection.
        var config = try Compare.config(method, size: method == "loca" || method == "qwha" ? r * 768 : r, targets: ["query", "value"], seed: 0)
        config.modulesToSave = ["classifier"]
        if config.method == .mtLoRA { config.tasks = ["a", "b"] }
        let peft = PeftModel(model)
        try peft.addAdapter(config)
        let (input, labels) = try NERBench.syntheticBatch(batch: batch, seq: seq, labels: 9, seed: 0)
        model.train()
        let opt = AdamW(learningRate: 2e-4, weightDecay: 0.01)
        let params = model.trainableParameters()
        var losses: [Float] = []
        let (median, _) = try NERBench.timed(warmup: warmup, steps: steps) {
            for (_, p) in params { p.zeroGrad() }
            let loss = try model(input, labels: labels).loss!
            loss.backward()
            opt.step(params)
            losses.append(loss.item)
        }
        return Row(method: method, trainable: model.parameterCounts().trainable, tokensPerSecond: Double(batch * seq) / median,
                   peakRSSMiB: NERBench.peakRSSMiB(), lossFirst: losses.first ?? 0, lossLast: losses.last ?? 0)
    }
}
