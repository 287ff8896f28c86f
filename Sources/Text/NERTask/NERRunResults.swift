import Foundation

/// `results.json` of a `ner-tune train` run: settings, per-epoch history, and the dev and test
/// scores of the best-dev checkpoint in seqeval's default and strict IOB2 modes.
public struct NERRunResults: Codable, Sendable, Equatable {
    public var model: String
    public var method: String
    public var labels: [String]
    public var options: Options
    public var trainableParameters: Int
    public var totalParameters: Int
    public var trainFile: String
    public var devFile: String
    public var testFile: String?
    public var epochs: [Epoch]
    /// The epoch whose weights were kept (highest dev F1, seqeval default mode).
    public var bestEpoch: Int
    public var stoppedEarly: Bool
    /// Dev scores of the best epoch.
    public var dev: NEREvaluationJSON
    /// Test scores of the best epoch, when a test file was given.
    public var test: NEREvaluationJSON?
    /// Seconds spent in training steps (evaluation excluded).
    public var trainSeconds: Double
    /// Seconds for the whole run, loading and evaluation included.
    public var wallSeconds: Double
    /// Real (non-padding) tokens per second in training steps.
    public var trainTokensPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case model, method, labels, options, epochs, dev, test
        case trainableParameters = "trainable_parameters"
        case totalParameters = "total_parameters"
        case trainFile = "train_file"
        case devFile = "dev_file"
        case testFile = "test_file"
        case bestEpoch = "best_epoch"
        case stoppedEarly = "stopped_early"
        case trainSeconds = "train_seconds"
        case wallSeconds = "wall_seconds"
        case trainTokensPerSecond = "train_tokens_per_second"
    }

    /// One epoch of training.
    public struct Epoch: Codable, Sendable, Equatable {
        public var epoch: Int
        public var trainLoss: Double
        public var devF1: Double
        public var devStrictF1: Double
        public var trainSeconds: Double
        public var tokensPerSecond: Double

        enum CodingKeys: String, CodingKey {
            case epoch
            case trainLoss = "train_loss"
            case devF1 = "dev_f1"
            case devStrictF1 = "dev_strict_f1"
            case trainSeconds = "train_seconds"
            case tokensPerSecond = "tokens_per_second"
        }
    }

    /// The training settings as written.
    public struct Options: Codable, Sendable, Equatable {
        public var r: Int
        public var loraAlpha: Float
        public var targetModules: [String]
        public var epochs: Int
        public var learningRate: Double
        public var batchSize: Int
        public var maxLength: Int
        public var windowOverlap: Int
        public var warmupRatio: Double
        public var weightDecay: Double
        public var maxGradNorm: Float
        public var patience: Int
        public var seed: UInt64

        enum CodingKeys: String, CodingKey {
            case r, epochs, patience, seed
            case loraAlpha = "lora_alpha"
            case targetModules = "target_modules"
            case learningRate = "learning_rate"
            case batchSize = "batch_size"
            case maxLength = "max_length"
            case windowOverlap = "window_overlap"
            case warmupRatio = "warmup_ratio"
            case weightDecay = "weight_decay"
            case maxGradNorm = "max_grad_norm"
        }

        public init(_ o: NERTrainingOptions) {
            r = o.rank
            loraAlpha = o.alpha
            targetModules = o.targets
            epochs = o.epochs
            learningRate = o.effectiveLearningRate
            batchSize = o.batchSize
            maxLength = o.maxLength
            windowOverlap = o.windowOverlap
            warmupRatio = o.warmupRatio
            weightDecay = o.weightDecay
            maxGradNorm = o.maxGradNorm
            patience = o.patience
            seed = o.seed
        }
    }
}
