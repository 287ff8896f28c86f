import Core
import Foundation
import Vision

/// `vision-adapt compare`: every method adapts the same backbone on the same K-shot support set
/// (sampled once per seed, shared by all methods) for the same number of iterations, scored by
/// accuracy on the same held-out images. The app's own methods (`svd`, `ln`, `adapter`,
/// `probe`, `zeroshot`) run as `vision-adapt train` runs them; adapter-library methods (LoRA,
/// DoRA, the zoo) replace the LoRA adapter through `VisionAdaptOptions.adapterOverride`, with
/// the same classifier head and training loop.
final class VisionCompareTask: CompareTask {
    let data: URL
    let strict: Bool
    let evalPerClass: Int?
    var options: VisionAdaptOptions
    let makeBackbone: () throws -> VisionBackbone
    let splits: ImageFolderSplits
    let evaluatedOn: String
    /// Decoded support and evaluation images per seed (decoded once, shared by all methods).
    private var cache: [UInt64: (support: LoadedImages, eval: LoadedImages)] = [:]

    init(data: URL, options: VisionAdaptOptions, strict: Bool, evalPerClass: Int?, backbone: @escaping () throws -> VisionBackbone) throws {
        self.data = data
        self.options = options
        self.strict = strict
        self.evalPerClass = evalPerClass
        makeBackbone = backbone
        splits = try ImageFolderSplits(root: data, strict: strict)
        guard splits.train.classes.count >= 2 else { throw DatasetError("\(data.path): classification needs at least 2 class folders") }
        evaluatedOn = splits.test != nil ? "test split" : "held-out remainder of the training pool"
    }

    var classes: [String] { splits.train.classes }
    var metricName: String { "accuracy" }
    var stepsName: String { "iterations" }
    var targets: [String] { options.loraTargets }
    var nativeMethods: [String] { AdaptMethod.allCases.map(\.rawValue).filter { $0 != "lora" } }
    /// The paper's method, the cheapest baseline, and LoRA-family methods that fit ViT blocks.
    var defaultMethods: [String] { ["probe", "svd", "lora", "dora", "randlora", "lokr", "loldu", "paca"] }

    /// The support and evaluation images of `seed` (the K-shot draw of `vision-adapt train`).
    func images(seed: UInt64) throws -> (support: LoadedImages, eval: LoadedImages) {
        if let c = cache[seed] { return c }
        let (support, rest) = try splits.train.kShot(options.shots, seed: seed)
        var evalSamples = splits.test?.samples ?? rest
        if let limit = evalPerClass {
            var taken = [Int](repeating: 0, count: classes.count)
            evalSamples = evalSamples.filter { s in taken[s.label] += 1; return taken[s.label] <= limit }
        }
        guard !evalSamples.isEmpty else { throw DatasetError("\(data.path): no image left for evaluation; add a test/ folder or lower --shots") }
        let c = (try ImageFolder.loadImages(support, strict: strict), try ImageFolder.loadImages(evalSamples, strict: strict))
        cache[seed] = c
        return c
    }

    func options(_ method: AdaptMethod, override: AdapterConfig?, seed: UInt64, steps: Int) -> VisionAdaptOptions {
        var o = options
        o.method = method
        o.seed = seed
        o.iterations = steps
        o.adapterOverride = override.map(AdapterOverride.init)
        return o
    }

    /// A model without training (support features stand-ins: the head's size is all counting needs).
    func counts(_ o: VisionAdaptOptions) throws -> (trainable: Int, total: Int) {
        let backbone = try makeBackbone()
        let features = Tensor.ones([classes.count, backbone.featureDim])
        let model = try VisionAdaptModel.create(backbone: backbone, classes: classes, options: o, supportFeatures: features, labels: Array(classes.indices))
        let total = backbone.module.namedParameters().reduce(0) { $0 + $1.1.count } + (model.head?.namedParameters().reduce(0) { $0 + $1.1.count } ?? 0)
        return (model.trainableCount, total)
    }

    func parameterCounts(_ config: AdapterConfig) throws -> (trainable: Int, total: Int) {
        try counts(options(.lora, override: config, seed: 0, steps: 1))
    }

    func nativeParameterCounts(_ method: String) throws -> (trainable: Int, total: Int) {
        try counts(options(try Self.method(method), override: nil, seed: 0, steps: 1))
    }

    static func method(_ name: String) throws -> AdaptMethod {
        guard let m = AdaptMethod(rawValue: name) else { throw ArgumentError.badValue("methods", name, expected: "a vision-adapt method") }
        return m
    }

    func run(_ config: AdapterConfig, seed: UInt64, steps: Int, log: (String) -> Void) throws -> CompareRun {
        try train(options(.lora, override: config, seed: seed, steps: steps), log: log)
    }

    func runNative(_ method: String, seed: UInt64, steps: Int, log: (String) -> Void) throws -> CompareRun {
        try train(options(try Self.method(method), override: nil, seed: seed, steps: steps), log: log)
    }

    /// One run: fresh backbone, frozen support features for the head, training, merge, evaluation.
    func train(_ o: VisionAdaptOptions, log: (String) -> Void) throws -> CompareRun {
        let (support, eval) = try images(seed: o.seed)
        let backbone = try makeBackbone()
        let size = o.imageSize ?? backbone.nativeImageSize
        let start = Date()
        let features = try VisionAdaptTrainer.features(backbone, images: support.images, size: size)
        let model = try VisionAdaptModel.create(backbone: backbone, classes: classes, options: o, supportFeatures: features, labels: support.labels)
        switch o.method {
        case .zeroshot: break
        case .probe: _ = try VisionAdaptTrainer.trainProbe(model, features: features, labels: support.labels) { _ in }
        default: _ = try VisionAdaptTrainer.train(model, images: support.images, labels: support.labels) { log("  " + $0) }
        }
        let trainSeconds = Date().timeIntervalSince(start)
        // Merged where the adapter folds into the weights; bottleneck adapters and
        // non-mergeable zoo methods (MTLoRA's task branches) run unmerged.
        let mergeable = o.method != .adapter && (model.peft.map { AdapterOverride.isMergeable($0) } ?? true)
        try model.mergeForInference()
        let evalStart = Date()
        let predictions = try model.predictLogits(eval.images).argmaxLastAxis()
        let evalSeconds = Date().timeIntervalSince(evalStart)
        let correct = zip(predictions, eval.labels).filter { $0 == $1 }.count
        return CompareRun(metric: Double(correct) / Double(Swift.max(eval.labels.count, 1)), trainSeconds: trainSeconds,
                          mergedInferenceSeconds: mergeable ? evalSeconds : nil)
    }

    static let usage = """
          vision-adapt compare --data DIR [--methods probe,svd,lora,dora,randlora,lokr,loldu,paca] [--seeds 1,2,3]
                               [--iterations N (100)] [--r N (8)] [--budget N | Nmin] [--out DIR (runs/vision-compare)]
                               [--shots 16] [--model PATH] [--batch 32] [--lr 5e-4] [--image-size S] [--targets q,v]
                               [--eval-per-class N] [--strict]
                 every method on the same K-shot support sets, seeds and iteration count; compare.md/json/png
                 with accuracy mean ± std, trainable parameters, time, memory and a computed recommendation
        """

    /// `vision-adapt compare [options]`.
    static func command(_ args: [String]) throws -> Int32 {
        let extra: Set<String> = ["data", "model", "shots", "iterations", "batch", "lr", "weight-decay", "min-lr", "image-size", "crop-scale",
                                  "logit-scale", "prompt", "alpha", "targets", "reduction", "eval-per-class"]
        let a = try Arguments(args, options: CompareOptions.names.union(extra).subtracting(["steps"]), flags: ["no-augment", "no-center", "strict"])
        if let p = a.positional.first { throw ArgumentError.badValue("compare", p, expected: "options written --name value") }
        guard let data = a.string("data") else { throw ArgumentError.missingRequired("data") }
        var base = try VisionAdaptCommand.options(a)
        base.method = .lora
        let model = a.string("model")
        let evalPerClass: Int? = a.string("eval-per-class") == nil ? nil : try a.int("eval-per-class", default: 0)
        let task = try VisionCompareTask(data: URL(fileURLWithPath: data), options: base, strict: a.has("strict"), evalPerClass: evalPerClass,
                                         backbone: { try VisionBackbone.load(model: model) })
        var defaults = CompareOptions(methods: [])
        defaults.steps = 100
        defaults.out = "runs/vision-compare"
        try Compare.runAndWrite(task, try CompareOptions.parse(a, defaultMethods: task.defaultMethods, stepsKey: "iterations", defaults: defaults),
                                app: "vision-adapt")
        return 0
    }
}
