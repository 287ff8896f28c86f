import Core

/// The Audio Spectrogram Transformer's input: Kaldi fbank (`KaldiFbankOptions.ast`), zero-padded
/// or cut to `maxLength` frames, then normalised with the AudioSet statistics, exactly as
/// transformers' `ASTFeatureExtractor` does (padding happens before normalisation, so padded rows
/// hold −mean/(2·std) = 0.46703237, not 0).
public struct ASTFeatureExtractor: Sendable {
    /// AudioSet fbank mean used by the released AST checkpoints.
    public static let audioSetMean: Float = -4.2677393
    /// AudioSet fbank standard deviation.
    public static let audioSetStd: Float = 4.5689974

    /// Frames per example (1024 for the AudioSet checkpoints; methods.md lists per-dataset values).
    public var maxLength: Int
    /// Normalisation mean (AudioSet by default).
    public var mean: Float
    /// Normalisation standard deviation; features are divided by 2·std.
    public var std: Float
    /// Whether to apply the normalisation (the extractor's `do_normalize`).
    public var normalize: Bool
    /// The fbank computer with AST's options.
    public let fbank: KaldiFbank

    /// The extractor of `MIT/ast-finetuned-audioset-10-10-0.4593` with a chosen `maxLength`.
    public init(maxLength: Int = 1024, mean: Float = audioSetMean, std: Float = audioSetStd, normalize: Bool = true) throws {
        precondition(maxLength >= 1, "ASTFeatureExtractor: maxLength must be positive")
        self.maxLength = maxLength
        self.mean = mean
        self.std = std
        self.normalize = normalize
        fbank = try KaldiFbank(.ast)
    }

    /// `[maxLength, 128]` input values of mono 16 kHz samples in [-1, 1).
    public func callAsFunction(_ samples: [Float]) throws -> Tensor {
        let features = try fbank.compute(samples)
        return normalizeAndFit(features)
    }

    /// Pads with zeros or truncates `features` `[T, bins]` to `maxLength` rows, then normalises.
    public func normalizeAndFit(_ features: Tensor) -> Tensor {
        precondition(features.rank == 2, "ASTFeatureExtractor: expected [frames, bins], got \(features.shape)")
        let rows = features.shape[0], bins = features.shape[1]
        var out = [Float](repeating: 0, count: maxLength * bins)
        let kept = min(rows, maxLength)
        for i in 0..<(kept * bins) { out[i] = features.storage[i] }
        if normalize { normalizeInPlace(&out) }
        return Tensor(out, shape: [maxLength, bins])
    }

    /// (x − mean) / (2·std), the extractor's normalisation, on any features.
    public func normalized(_ features: Tensor) -> Tensor {
        var values = features.storage
        normalizeInPlace(&values)
        return Tensor(values, shape: features.shape)
    }

    private func normalizeInPlace(_ values: inout [Float]) {
        let denominator = 2 * std
        for i in values.indices { values[i] = (values[i] - mean) / denominator }
    }
}
