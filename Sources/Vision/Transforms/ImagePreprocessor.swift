import Core
import Foundation

/// Per-channel mean and standard deviation for `(x / 255 − mean) / std`.
public struct Normalization: Sendable, Equatable {
    public var mean: [Float]
    public var std: [Float]

    public init(mean: [Float], std: [Float]) {
        precondition(mean.count == std.count && !mean.isEmpty, "mean and std need one value per channel")
        self.mean = mean
        self.std = std
    }

    /// ImageNet statistics (torchvision, ViT-in21k fine-tunes, DINOv2).
    public static let imagenet = Normalization(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
    /// OpenAI CLIP statistics.
    public static let clip = Normalization(mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711])
    /// Mean 0.5, std 0.5 (Google's ViT checkpoints).
    public static let half = Normalization(mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5])
}

extension Image {
    /// torchvision `ToTensor` then `Normalize`: a `[C, H, W]` tensor of
    /// `(Float(v) / 255 − mean[c]) / std[c]`, computed in Float32 as PyTorch does. Hugging Face
    /// processors rescale in Float64 first, which can differ in the last bit.
    public func toTensor(_ normalization: Normalization? = nil) -> Tensor {
        Tensor(planarValues(normalization), shape: [channels, height, width])
    }

    /// The `[C, H, W]` floats of `toTensor`, without building a tensor.
    func planarValues(_ normalization: Normalization?) -> [Float] {
        if let normalization { precondition(normalization.mean.count == channels, "normalisation has \(normalization.mean.count) channels, image has \(channels)") }
        let plane = width * height
        var out = [Float](repeating: 0, count: plane * channels)
        for c in 0..<channels {
            let mean = normalization?.mean[c] ?? 0, std = normalization?.std[c] ?? 1
            for i in 0..<plane {
                out[c * plane + i] = (Float(pixels[i * channels + c]) / 255 - mean) / std
            }
        }
        return out
    }

    /// Stacks same-sized images into a `[N, C, H, W]` batch. Throws (naming the first odd one
    /// out) if sizes or channel counts differ — run a preprocessor first.
    public static func batchTensor(_ images: [Image], _ normalization: Normalization? = nil) throws -> Tensor {
        guard let first = images.first else { return Tensor([], shape: [0, 3, 0, 0]) }
        var storage = [Float]()
        storage.reserveCapacity(images.count * first.pixels.count)
        for (i, img) in images.enumerated() {
            guard img.width == first.width, img.height == first.height, img.channels == first.channels else {
                throw ImageError(.unsupported, file: "<batch>", problem: "image \(i) is \(img.width)x\(img.height)x\(img.channels), image 0 is \(first.width)x\(first.height)x\(first.channels)",
                                 hint: "resize and crop every image to one size (ImagePreprocessor) before batching")
            }
            storage += img.planarValues(normalization)
        }
        return Tensor(storage, shape: [images.count, first.channels, first.height, first.width])
    }
}

/// The deterministic (evaluation) preprocessing of a model: convert to RGB, resize, centre
/// crop, normalise. Presets mirror the Hugging Face image processors of each model family.
public struct ImagePreprocessor: Sendable {
    public enum Resize: Sendable, Equatable {
        /// Shorter side to this size, aspect kept (`shortest_edge`, torchvision `Resize(int)`).
        case shorterSide(Int)
        /// Exactly this size, aspect not kept (`{"height", "width"}`).
        case exact(height: Int, width: Int)
        case none
    }

    public var resize: Resize
    public var interpolation: Interpolation
    /// Centre crop `(height, width)`, or nil for none.
    public var centerCrop: (height: Int, width: Int)?
    public var cropRounding: CropRounding
    public var normalization: Normalization

    public init(resize: Resize, interpolation: Interpolation, centerCrop: (height: Int, width: Int)?,
                cropRounding: CropRounding = .huggingFace, normalization: Normalization) {
        self.resize = resize
        self.interpolation = interpolation
        self.centerCrop = centerCrop
        self.cropRounding = cropRounding
        self.normalization = normalization
    }

    /// `CLIPImageProcessor`: shortest edge `size` bicubic, centre crop `size`, CLIP statistics.
    public static func clip(size: Int = 224) -> ImagePreprocessor {
        ImagePreprocessor(resize: .shorterSide(size), interpolation: .bicubic, centerCrop: (size, size), normalization: .clip)
    }

    /// DINOv2's `BitImageProcessor`: shortest edge 256 bicubic, centre crop 224, ImageNet statistics
    /// (other sizes keep the 256/224 ratio).
    public static func dinov2(size: Int = 224) -> ImagePreprocessor {
        ImagePreprocessor(resize: .shorterSide(size * 256 / 224), interpolation: .bicubic, centerCrop: (size, size), normalization: .imagenet)
    }

    /// `ViTImageProcessor`: resize to `size × size` bilinear, no crop, mean = std = 0.5.
    public static func vit(size: Int = 224) -> ImagePreprocessor {
        ImagePreprocessor(resize: .exact(height: size, width: size), interpolation: .bilinear, centerCrop: nil, normalization: .half)
    }

    /// The geometric part: RGB conversion, resize, crop (8-bit in, 8-bit out).
    public func geometry(_ image: Image) -> Image {
        var img = image.rgb()
        switch resize {
        case .shorterSide(let s): img = img.resizedShorterSide(to: s, interpolation: interpolation)
        case .exact(let h, let w): img = img.resized(width: w, height: h, interpolation: interpolation)
        case .none: break
        }
        if let crop = centerCrop { img = img.centerCropped(height: crop.height, width: crop.width, rounding: cropRounding) }
        return img
    }

    /// `[3, H, W]` model input.
    public func callAsFunction(_ image: Image) -> Tensor {
        geometry(image).toTensor(normalization)
    }
}

/// The usual few-shot training augmentation: random resized crop, horizontal flip, normalise
/// (CoOp / CLIP-SVD recipe: scale 0.08–1, flip 0.5).
public struct TrainAugmentation: Sendable {
    public var crop: RandomResizedCrop
    public var flip: RandomHorizontalFlip
    public var normalization: Normalization

    public init(size: Int, interpolation: Interpolation = .bicubic, scale: ClosedRange<Double> = 0.08...1.0,
                flipProbability: Double = 0.5, normalization: Normalization) {
        crop = RandomResizedCrop(size: size, scale: scale, interpolation: interpolation)
        flip = RandomHorizontalFlip(p: flipProbability)
        self.normalization = normalization
    }

    /// Augments one image (converted to RGB) and returns its `[3, H, W]` tensor.
    public func callAsFunction<G: RandomNumberGenerator>(_ image: Image, using rng: inout G) -> Tensor {
        flip(crop(image.rgb(), using: &rng), using: &rng).toTensor(normalization)
    }
}
