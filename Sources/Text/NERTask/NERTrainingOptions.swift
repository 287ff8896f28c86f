import Core
import Foundation

/// What part of the model trains.
public enum NERMethod: String, Sendable, CaseIterable, Equatable {
    /// LoRA on the target Linears (default query, value) plus the head.
    case lora
    /// DoRA (LoRA with a learned per-output magnitude) on the same Linears plus the head.
    case dora
    /// Every parameter of the encoder and the head.
    case full
    /// The linear head only (a frozen-feature probe).
    case head

    /// A learning rate that works for the method on BERT-sized encoders: adapters and heads
    /// take large steps, full fine-tuning needs the usual 5e-5.
    public var defaultLearningRate: Double {
        switch self {
        case .lora, .dora: return 2e-3
        case .head: return 5e-3
        case .full: return 5e-5
        }
    }
}

/// Settings of one `ner-tune train` run. The defaults are the command's defaults.
///
/// ```swift
/// var o = NERTrainingOptions()
/// o.method = .dora; o.epochs = 5
/// try o.validate()
/// ```
public struct NERTrainingOptions: Sendable, Equatable {
    public var method: NERMethod = .lora
    /// LoRA/DoRA rank and alpha (scale alpha / r) and the module names they target (peft rules).
    public var rank = 8
    public var alpha: Float = 16
    public var targets = ["query", "value"]
    public var epochs = 3
    /// Peak learning rate; nil takes `method.defaultLearningRate`.
    public var learningRate: Double?
    /// Windows per batch.
    public var batchSize = 16
    /// Model positions per window, `[CLS]` and `[SEP]` included; longer sentences are split
    /// into overlapping windows.
    public var maxLength = 128
    /// Tokens of shared context between neighbouring windows of one long sentence.
    public var windowOverlap = 32
    /// Share of all optimizer steps spent warming the learning rate up from 0.
    public var warmupRatio = 0.1
    public var weightDecay = 0.01
    /// Gradients are clipped to this global L2 norm (Hugging Face Trainer's default 1.0).
    public var maxGradNorm: Float = 1.0
    /// Epochs without a better dev F1 before training stops; 0 never stops early.
    public var patience = 2
    public var seed: UInt64 = 42
    /// Batch size for evaluation and prediction (no gradients, so larger is fine).
    public var evalBatchSize = 64
    /// Progress lines on stderr every this many steps (and at every epoch end).
    public var logEvery = 20

    public init() {}

    /// The learning rate actually used.
    public var effectiveLearningRate: Double { learningRate ?? method.defaultLearningRate }

    /// Throws a one-line message for a value out of range.
    public func validate() throws {
        func bad(_ s: String) -> NERTaskError { .badOption(s) }
        if rank < 1 { throw bad("--r must be at least 1 (got \(rank))") }
        if !(alpha > 0) { throw bad("--alpha must be positive (got \(alpha))") }
        if targets.isEmpty, method == .lora || method == .dora { throw bad("--target needs at least one module name (e.g. query,value)") }
        if epochs < 1 { throw bad("--epochs must be at least 1 (got \(epochs))") }
        if let lr = learningRate, !(lr > 0 && lr < 1) { throw bad("--lr must be in (0, 1) (got \(lr))") }
        if batchSize < 1 || batchSize > 4096 { throw bad("--batch must be in 1…4096 (got \(batchSize))") }
        if maxLength < 8 { throw bad("--max-length must be at least 8 (got \(maxLength))") }
        if windowOverlap < 0 { throw bad("window overlap must not be negative") }
        if !(0..<1).contains(warmupRatio) { throw bad("--warmup must be in [0, 1) (got \(warmupRatio))") }
        if !(weightDecay >= 0 && weightDecay < 1) { throw bad("--weight-decay must be in [0, 1) (got \(weightDecay))") }
        if patience < 0 { throw bad("--patience must not be negative (got \(patience))") }
    }
}

/// Errors of the NER task, each a one-line message that says what to do.
public enum NERTaskError: Error, CustomStringConvertible, Equatable {
    case badOption(String)
    case badAdapter(folder: String, detail: String)
    case tooLong(maxLength: Int, modelMaximum: Int)
    case noTrainingTokens(path: String)

    public var description: String {
        switch self {
        case let .badOption(s): return s
        case let .badAdapter(folder, detail): return "\(folder): \(detail)"
        case let .tooLong(n, m): return "--max-length \(n) is more than the model's \(m) positions; use at most \(m)"
        case let .noTrainingTokens(path): return "\(path): no word of the training file gives a token the model can read; check the file's encoding and the model's vocabulary"
        }
    }
}
