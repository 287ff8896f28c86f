import Core
import Foundation
import Text

/// `peftkit-bench ner`: LoRA token-classification speed on MiniLM-L6 (a benchmark, not a test).
///
/// Mirrors `shared/bench/peer/peer_bench.py minilm` shape for shape: synthetic ids in
/// 1000..<30000 with [CLS]/[SEP] at the ends, no padding, 9 random labels; inference in eval mode
/// without gradients (adapters unmerged); training in train mode (config dropout on) with
/// AdamW lr 2e-4, weight decay 0.01 over the trainable tensors. Each figure is the median of the
/// timed steps after warm-up. With `--peer-python`, the PyTorch + peft peer runs on the same
/// shapes in the same invocation (after ours, never concurrently) and the ratios are printed.
public enum NERBench {
    public static let usage = """
        usage: peftkit-bench ner [--model DIR | --random-init] [--mode lora-qv|lora-all|full] [--batch 16] [--seq 128]
                                 [--warmup 3] [--train-steps 10] [--infer-steps 20] [--seed 0]
                                 [--peer-python PATH] [--peer-script PATH] [--profile]
          MiniLM-L6 token classification (9 labels): inference and LoRA training tokens/s, peak RSS,
          share of time in GEMM; with --peer-python also PyTorch+peft on the same shapes and the ratios.
        """

    struct Figures {
        var inferTokensPerSecond = 0.0
        var trainTokensPerSecond = 0.0
        var peakRSSInferMiB = 0.0
        var peakRSSTrainMiB = 0.0
        var inferGEMMShare = 0.0
        var trainGEMMShare = 0.0
        var inferGFLOPs = 0.0
        var trainGFLOPs = 0.0
        var lossFirst: Float = 0
        var lossLast: Float = 0
    }

    /// Runs the benchmark; `args` are the words after `ner`.
    public static func run(args: [String]) throws -> Int32 {
        let a = try Arguments(args, options: ["model", "mode", "batch", "seq", "warmup", "train-steps", "infer-steps", "seed",
                                              "peer-python", "peer-script", "labels"],
                              flags: ["random-init", "profile"])
        let batch = try a.int("batch", default: 16), seq = try a.int("seq", default: 128)
        let warmup = try a.int("warmup", default: 3)
        let trainSteps = try a.int("train-steps", default: 10), inferSteps = try a.int("infer-steps", default: 20)
        let seed = try a.uint64("seed", default: 0)
        let numLabels = try a.int("labels", default: 9)
        let mode = a.string("mode", default: "lora-qv")
        guard ["lora-qv", "lora-all", "full"].contains(mode) else {
            throw ArgumentError.badValue("mode", mode, expected: "lora-qv, lora-all or full")
        }
        guard batch > 0, seq >= 2, seq <= 512, warmup >= 0, trainSteps >= 0, inferSteps >= 0, numLabels > 0 else {
            throw ArgumentError.badValue("batch/seq/steps", "\(batch)/\(seq)", expected: "positive sizes (seq in 2...512)")
        }
        AllocatorTuning.retainFreedMemory()
        let folder: String? = a.has("random-init") ? nil : try (a.string("model") ?? DefaultModels.miniLM())
        let model = try buildModel(folder: folder, numLabels: numLabels, seed: seed)
        let peft = try applyMode(mode, to: model)
        let counts = model.parameterCounts()
        print("OpenBLAS kernel: \(BLAS.coreName), threads: \(BLAS.threads), workers: \(Parallelism.workers)")
        print("model: \(folder ?? "random-init MiniLM-L6 shape"), mode \(mode), trainable \(counts.trainable) of \(counts.total)")
        print("batch \(batch) x \(seq) tokens, warm-up \(warmup), timed: infer \(inferSteps), train \(trainSteps)")
        _ = peft

        let (input, labels) = try syntheticBatch(batch: batch, seq: seq, labels: numLabels, seed: seed)
        var f = Figures()
        let tokens = Double(batch * seq)
        let forwardFlops = analyticForwardFlops(model.bert.config, batch: batch, seq: seq, labels: numLabels)
        if inferSteps > 0 {
            model.eval()
            let (median, share) = try timed(warmup: warmup, steps: inferSteps) {
                _ = try withoutGrad { try model.logits(input) }
            }
            f.inferTokensPerSecond = tokens / median
            f.inferGEMMShare = share
            f.inferGFLOPs = forwardFlops / median / 1e9
            f.peakRSSInferMiB = peakRSSMiB()
        }
        if trainSteps > 0 {
            model.train()
            let opt = AdamW(learningRate: 2e-4, weightDecay: 0.01)
            let params = model.trainableParameters()
            var losses: [Float] = []
            let (median, share) = try timed(warmup: warmup, steps: trainSteps) {
                for (_, p) in params { p.zeroGrad() }
                let loss = try model(input, labels: labels).loss!
                loss.backward()
                opt.step(params)
                losses.append(loss.item)
            }
            f.trainTokensPerSecond = tokens / median
            f.trainGEMMShare = share
            f.trainGFLOPs = (mode == "full" ? 3 : 2) * forwardFlops / median / 1e9
            f.lossFirst = losses.first ?? 0
            f.lossLast = losses.last ?? 0
        }
        f.peakRSSTrainMiB = peakRSSMiB()
        report(f)

        if let python = a.string("peer-python") {
            let script = try a.string("peer-script") ?? findPeerScript()
            let peer = try runPeer(python: python, script: script, model: folder, mode: mode, batch: batch, seq: seq,
                                   warmup: warmup, trainSteps: trainSteps, inferSteps: inferSteps, labels: numLabels)
            compare(f, peer)
        }
        return 0
    }

    // MARK: - Model

    static func buildModel(folder: String?, numLabels: Int, seed: UInt64) throws -> BertForTokenClassification {
        let labels = (0..<numLabels).map { "L\($0)" }
        if let folder { return try BertForTokenClassification.load(folder: folder, labels: labels, seed: seed).model }
        // MiniLM-L6's shape with random weights (what the peer's --random-init builds).
        let config = BertConfig(vocabSize: 30522, hiddenSize: 384, numHiddenLayers: 6, numAttentionHeads: 12, intermediateSize: 1536)
        let store = WeightStore.random(seed: seed)
        let bert = try BertModel(config: config, seed: seed, at: store.root)
        bert.freeze()
        return BertForTokenClassification(bert: bert, classifier: BertForTokenClassification.freshHead(config: config, numLabels: numLabels, seed: seed),
                                          labels: labels, seed: seed)
    }

    /// peft's settings for each mode: LoRA r=8, alpha=16, no LoRA dropout, the head trained in full
    /// (`modules_to_save`, as TOKEN_CLS does); `full` trains everything.
    static func applyMode(_ mode: String, to model: BertForTokenClassification) throws -> PeftModel? {
        if mode == "full" {
            model.unfreeze()
            return nil
        }
        let targets = mode == "lora-qv" ? ["query", "value"] : ["query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"]
        var config = AdapterConfig.lora(r: 8, alpha: 16, targets: targets)
        config.modulesToSave = ["classifier"]
        let peft = PeftModel(model)
        try peft.addAdapter(config)
        return peft
    }

    /// The peer's batch: ids uniform in 1000..<30000, [CLS]=101 first, [SEP]=102 last, no padding.
    static func syntheticBatch(batch: Int, seq: Int, labels: Int, seed: UInt64) throws -> (BertInput, [Int]) {
        var rng = SplitMix64(seed: seed ^ 0x4E45_5242)
        var ids = (0..<(batch * seq)).map { _ in Int.random(in: 1000..<30000, using: &rng) }
        for b in 0..<batch {
            ids[b * seq] = 101
            ids[b * seq + seq - 1] = 102
        }
        let y = (0..<(batch * seq)).map { _ in Int.random(in: 0..<labels, using: &rng) }
        return (try BertInput(inputIDs: ids, batch: batch, length: seq), y)
    }

    /// The peer's analytic count: projections, FFN, QKᵀ and PV per layer, plus the head.
    static func analyticForwardFlops(_ c: BertConfig, batch: Int, seq: Int, labels: Int) -> Double {
        let (s, d, ff) = (Double(seq), Double(c.hiddenSize), Double(c.intermediateSize))
        let perLayer = 2 * s * (4 * d * d + 2 * d * ff) + 4 * s * s * d
        return Double(batch) * (Double(c.numHiddenLayers) * perLayer + 2 * s * d * Double(labels))
    }

    // MARK: - Measuring

    /// Median seconds of `body` over `steps` timed runs after `warmup`, and the share of the timed
    /// wall time spent inside GEMM.
    static func timed(warmup: Int, steps: Int, _ body: () throws -> Void) throws -> (median: Double, gemmShare: Double) {
        for _ in 0..<warmup { try body() }
        var times: [Double] = []
        BLAS.setProfiling(true)
        defer { BLAS.setProfiling(false) }
        for _ in 0..<steps {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        let gemm = Double(BLAS.gemmNanoseconds.load(ordering: .relaxed)) / 1e9
        return (times.sorted()[times.count / 2], gemm / max(times.reduce(0, +), 1e-9))
    }

    /// Peak resident set size of this process so far (getrusage's ru_maxrss is in KiB on Linux).
    static func peakRSSMiB() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }

    static func report(_ f: Figures) {
        print(String(format: "PEFTKit  infer %8.0f tok/s (%5.1f GFLOP/s, GEMM %4.1f%%)  peak RSS %6.0f MiB",
                     f.inferTokensPerSecond, f.inferGFLOPs, 100 * f.inferGEMMShare, f.peakRSSInferMiB))
        print(String(format: "PEFTKit  train %8.0f tok/s (%5.1f GFLOP/s, GEMM %4.1f%%)  peak RSS %6.0f MiB  loss %.4f -> %.4f",
                     f.trainTokensPerSecond, f.trainGFLOPs, 100 * f.trainGEMMShare, f.peakRSSTrainMiB,
                     Double(f.lossFirst), Double(f.lossLast)))
    }
}
