import Core
import Foundation

/// A classifier trained on the few-shot set that judges generated examples: per text, a
/// probability for each class.
public protocol AugmentationTeacher: AnyObject {
    func probabilities(_ texts: [String]) throws -> [[Float]]
}

/// The teacher built from the black box alone: a linear probe on pooled features of the K-shot
/// training set (early-stopped on the dev set), read through its softmax.
public final class ProbeTeacher: AugmentationTeacher {
    public let source: any TextFeatureSource
    let head: Linear

    public init(source: any TextFeatureSource, train: [String], trainLabels: [Int], dev: [String], devLabels: [Int],
                classes: Int, seed: UInt64) throws {
        self.source = source
        let tr = try source.features(train, kind: .pooled).map(\.values)
        let dv = try source.features(dev, kind: .pooled).map(\.values)
        head = try FewShotBaselines.trainLinearProbe(train: tr, trainLabels: trainLabels, dev: dv, devLabels: devLabels,
                                                     classes: classes, seed: seed)
    }

    public func probabilities(_ texts: [String]) throws -> [[Float]] {
        guard !texts.isEmpty else { return [] }
        let x = try source.features(texts, kind: .pooled)
        let d = x[0].dim
        let p = withoutGrad { head(Tensor(x.flatMap(\.values), shape: [x.count, d])).softmax() }
        let c = p.shape[1]
        return (0..<x.count).map { Array(p.storage[($0 * c)..<(($0 + 1) * c)]) }
    }
}

/// How many generated examples of each class survived the switch.
public struct SwitchReport: Sendable, Equatable {
    public var labels: [String]
    public var generated: [Int]
    public var kept: [Int]
    /// Dropped because the teacher preferred another class.
    public var disagreed: [Int]

    /// `act 12/16, animal 9/16, …`.
    public var summary: String {
        labels.indices.map { "\(labels[$0]) \(kept[$0])/\(generated[$0])" }.joined(separator: ", ")
    }
}

/// The switch of CrossTune's augmentation: a generated example is kept only when the teacher's
/// most probable class is the class it was generated for and that probability is at least
/// `threshold`. With `threshold` nil every generated example is kept (the no-switch ablation).
public enum AugmentationSwitch {
    /// Indices of the kept candidates, and the per-class counts.
    public static func filter(intended: [Int], probabilities: [[Float]], labels: [String], threshold: Float?) throws -> (kept: [Int], report: SwitchReport) {
        guard intended.count == probabilities.count else {
            throw CrossTuneError("switch: \(intended.count) candidates but \(probabilities.count) teacher answers")
        }
        var report = SwitchReport(labels: labels, generated: Array(repeating: 0, count: labels.count),
                                  kept: Array(repeating: 0, count: labels.count), disagreed: Array(repeating: 0, count: labels.count))
        var kept: [Int] = []
        for (i, (y, p)) in zip(intended, probabilities).enumerated() {
            guard labels.indices.contains(y), p.count == labels.count else {
                throw CrossTuneError("switch: candidate \(i) has class \(y) or \(p.count) probabilities for \(labels.count) classes")
            }
            report.generated[y] += 1
            if let threshold {
                if argmax(p) != y { report.disagreed[y] += 1; continue }
                if p[y] < threshold { continue }
            }
            report.kept[y] += 1
            kept.append(i)
        }
        return (kept, report)
    }
}

/// Augmentation of the K-shot training set: `perClass` generated examples per class, passed
/// through the switch unless `threshold` is nil.
public struct AugmentationPlan {
    public var generator: any TextGenerator
    public var perClass: Int
    public var threshold: Float?
    /// The switch's judge: a linear probe on the black-box features (default), or the encoder
    /// itself fine-tuned with LoRA on the K-shot set (needs its folder; the paper's choice).
    public var teacher: Teacher = .probe

    public enum Teacher {
        case probe
        case lora(folder: String, options: WhiteBoxLoRAOptions)
        public var name: String {
            switch self {
            case .probe: "linear probe"
            case .lora: "LoRA encoder"
            }
        }
    }

    public init(generator: any TextGenerator, perClass: Int, threshold: Float? = 0.5, teacher: Teacher = .probe) {
        self.generator = generator
        self.perClass = perClass
        self.threshold = threshold
        self.teacher = teacher
    }

    /// Generates for every class of `split`, judges with a probe teacher on `source`, and
    /// returns the kept examples with the report.
    public func augment(_ split: FewShotSplit, labels: [String], descriptions: [String], source: any TextFeatureSource,
                        seed: UInt64) throws -> (examples: [LabelledText], report: SwitchReport) {
        var candidates: [LabelledText] = [], intended: [Int] = []
        for (c, label) in labels.enumerated() {
            let shots = split.train.filter { $0.label == label }.map(\.text)
            // A different stream per class and seed, stable across runs.
            let texts = try generator.generate(label: label, description: descriptions[c], examples: shots, count: perClass,
                                               seed: seed &* 1_000_003 &+ UInt64(c))
            candidates += texts.map { LabelledText(text: $0, label: label) }
            intended += Array(repeating: c, count: texts.count)
        }
        let probabilities: [[Float]]
        if threshold == nil {
            probabilities = intended.map { y in (0..<labels.count).map { $0 == y ? 1 : 0 } }
        } else {
            let index = { (t: LabelledText) in labels.firstIndex(of: t.label) ?? 0 }
            let judge: any AugmentationTeacher
            switch teacher {
            case .probe:
                judge = try ProbeTeacher(source: source, train: split.train.map(\.text), trainLabels: split.train.map(index),
                                         dev: split.dev.map(\.text), devLabels: split.dev.map(index), classes: labels.count, seed: seed)
            case .lora(let folder, var options):
                options.seed = seed
                let c = try WhiteBoxLoRAClassifier(folder: folder, classes: labels.count, options: options)
                try c.fit(train: split.train.map(\.text), trainLabels: split.train.map(index), dev: split.dev.map(\.text),
                          devLabels: split.dev.map(index))
                judge = c
            }
            probabilities = try judge.probabilities(candidates.map(\.text))
        }
        let (kept, report) = try AugmentationSwitch.filter(intended: intended, probabilities: probabilities, labels: labels, threshold: threshold)
        return (kept.map { candidates[$0] }, report)
    }
}
